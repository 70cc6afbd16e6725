import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Exporter, type ExporterOptions } from '../../src/agent/exporter.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, type Profile } from '../../src/model/index.js';

interface Received {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

let servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

/** A stand-in server answering with the statuses given, one per request (the last one repeats). */
async function receiver(statuses: number[]): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(statuses[Math.min(got.length - 1, statuses.length - 1)]!).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

function profile(service: string): Profile {
  const b = new DictionaryBuilder();
  return { type: CPU_TYPE, labels: labelsFrom({ service_name: service }), timeMs: 0, durationNs: 0, period: 1e9 / 19, dict: b.dict, stacks: [b.stack([b.frame('main')])], values: [1] };
}

function options(server: string, extra: Partial<ExporterOptions> = {}): ExporterOptions {
  return {
    server,
    protocol: 'otlp',
    frequencyHz: 19,
    timeoutMs: 2000,
    queue: { maxItems: 10, maxBytes: 1e6, initialBackoffMs: 1, maxBackoffMs: 5 },
    otlpEncoder: (ps) => new TextEncoder().encode(ps.map((p) => p.labels[0]!.value).join(',')),
    ...extra,
  };
}

const window = { startMs: 0, endMs: 10_000 };

describe('Exporter', () => {
  it('POSTs gzipped OTLP with the bearer token and tenant', async () => {
    const srv = await receiver([200]);
    const ex = new Exporter(options(srv.url, { bearerToken: 'tok', tenant: 'team-a' }));
    ex.submit([profile('a'), profile('b')], window);
    expect(await ex.flush(5000)).toBe(true);
    expect(srv.got).toHaveLength(1);
    const r = srv.got[0]!;
    expect(r.url).toBe('/v1development/profiles');
    expect(r.headers.authorization).toBe('Bearer tok');
    expect(r.headers['x-scope-orgid']).toBe('team-a');
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(r.body).toString()).toBe('a,b');
    ex.close();
  });

  it('retries on 503 until the server accepts, reporting each failure', async () => {
    const srv = await receiver([503, 503, 200]);
    const failures: string[] = [];
    let sent = 0;
    const ex = new Exporter(options(srv.url), { failed: (_r, e, retry) => failures.push(`${retry}:${e}`), sent: () => sent++ });
    ex.submit([profile('a')], window);
    expect(await ex.flush(5000)).toBe(true);
    expect(srv.got).toHaveLength(3);
    expect(failures).toEqual(['true:HTTP 503', 'true:HTTP 503']);
    expect(sent).toBe(1);
    ex.close();
  });

  it('reports the CPU of every delivery attempt (the agent send stage)', async () => {
    const srv = await receiver([503, 200]);
    const cpu: number[] = [];
    const ex = new Exporter(options(srv.url), { sendCpu: (s) => cpu.push(s) });
    ex.submit([profile('a')], window);
    expect(ex.queued).toBe(1);
    expect(await ex.flush(5000)).toBe(true);
    expect(srv.got).toHaveLength(2);
    expect(cpu).toHaveLength(2);
    for (const s of cpu) expect(s >= 0 && s < 5).toBe(true);
    ex.close();
  });

  it('rows push: symbols until the server has a stack; after a 409 the request goes again with every symbol', async () => {
    const srv = await receiver([200, 409, 200, 200]);
    const ex = new Exporter(options(srv.url, { protocol: 'kiln' }));
    const push = async () => {
      ex.submit([profile('a')], window);
      expect(await ex.flush(5000)).toBe(true);
    };
    await push(); // symbols and rows, accepted: the stack is confirmed
    await push(); // rows alone; the server lacks the stack (a restart): 409, then every symbol again
    await push(); // confirmed again by that request: rows alone
    const sizes = srv.got.map((g) => g.body.length);
    expect(srv.got.map((g) => g.url)).toEqual(Array(4).fill('/kiln/v1/rows'));
    expect(sizes[1]).toBeLessThan(sizes[0]!);
    expect(sizes[2]).toBe(sizes[0]);
    expect(sizes[3]).toBe(sizes[1]);
    ex.close();
  });

  it('drops a request the server rejects (401) instead of retrying it forever', async () => {
    const srv = await receiver([401, 200]);
    const failures: boolean[] = [];
    const ex = new Exporter(options(srv.url), { failed: (_r, _e, retry) => failures.push(retry) });
    ex.submit([profile('a')], window);
    ex.submit([profile('b')], window);
    expect(await ex.flush(5000)).toBe(true);
    expect(srv.got.map((g) => gunzipSync(g.body).toString())).toEqual(['a', 'b']);
    expect(failures).toEqual([false]);
    ex.close();
  });

  it('queues while nothing listens and reports connection errors as retryable', async () => {
    const srv = await receiver([200]);
    const port = new URL(srv.url).port;
    servers[0]!.close();
    await new Promise((r) => setTimeout(r, 20));
    const failures: string[] = [];
    const ex = new Exporter(options(`http://127.0.0.1:${port}`), { failed: (_r, e, retry) => failures.push(`${retry}:${e}`) });
    ex.submit([profile('a')], window);
    while (failures.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(ex.queued).toBe(1);
    expect(failures[0]).toMatch(/^true:.*ECONNREFUSED/);
    ex.close();
  });
});
