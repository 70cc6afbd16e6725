import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

/**
 * Issue 8: "a connection that stops halfway through its headers is held forever (1 000 of them lock
 * everyone out)". Short timeouts and a small cap here so the test runs in seconds; the defaults are
 * in src/server/connections.ts.
 */
let dir: string;
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-conn-'));
  store = await openStore(dir, { threads: 2 });
  server = await startServer({
    store,
    host: '127.0.0.1',
    port: 0,
    connections: { headersTimeoutMs: 500, requestTimeoutMs: 1500, idleTimeoutMs: 1000, maxConnections: 200 },
  });
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Opens a connection, sends `bytes`, and resolves with how long the server kept it open (ms), capped at `maxMs`. */
function heldFor(bytes: string, maxMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t = performance.now();
    const sock = net.connect(server.port, '127.0.0.1', () => sock.write(bytes));
    const cap = setTimeout(() => {
      sock.destroy();
      resolve(maxMs);
    }, maxMs);
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(cap);
      resolve(performance.now() - t);
    });
  });
}

describe('connection timeouts and cap', () => {
  it('a connection stalled halfway through its headers is closed by the header timeout', async () => {
    const ms = await heldFor('GET /healthz HTTP/1.1\r\nHost: kiln\r\nX-Half', 10_000);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(3000);
  });

  it('a connection that never sends a byte is closed by the same timeout', async () => {
    expect(await heldFor('', 10_000)).toBeLessThan(3000);
  });

  it('a body that stops arriving is closed by the request timeout', async () => {
    const ms = await heldFor('POST /ingest?name=x HTTP/1.1\r\nHost: kiln\r\nContent-Length: 1000\r\n\r\nmain 1\n', 10_000);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(5000);
  });

  it('1 000 stalled connections do not lock others out: past the cap the oldest stalled one makes room', async () => {
    // A long header timeout here, so what lets /healthz in is the cap's eviction, not the clock.
    const capped = await startServer({ store, host: '127.0.0.1', port: 0, connections: { headersTimeoutMs: 60_000, maxConnections: 200 } });
    const stalled: net.Socket[] = [];
    let closedByServer = 0;
    try {
      await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise<void>((resolve) => {
            const s = net.connect(capped.port, '127.0.0.1', () => {
              s.write('GET / HTTP/1.1\r\nHost: kiln\r\n');
              resolve();
            });
            s.on('error', () => resolve());
            s.on('close', () => closedByServer++);
            stalled.push(s);
          }),
        ),
      );
      const t = performance.now();
      const res = await fetch(`${capped.url}/healthz`);
      expect(res.status).toBe(200);
      expect(performance.now() - t).toBeLessThan(2000);
      // At most the cap stays open: the rest were closed to make room.
      await new Promise((r) => setTimeout(r, 200));
      expect(closedByServer).toBeGreaterThanOrEqual(800);
    } finally {
      for (const s of stalled) s.destroy();
      await capped.close();
    }
  });

  it('an idle keep-alive connection is closed after the idle timeout', async () => {
    const ms = await heldFor('GET /healthz HTTP/1.1\r\nHost: kiln\r\n\r\n', 10_000);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4000);
  });
});
