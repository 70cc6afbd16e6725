import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postBytes } from '../../src/agent/exporter-post.js';

/** A real HTTP server on a free 127.0.0.1 port that keeps idle connections for a minute. */
async function server(handler: http.RequestListener) {
  const s = http.createServer(handler);
  s.keepAliveTimeout = 60_000;
  const closed: Socket[] = [];
  s.on('connection', (socket: Socket) => socket.on('close', () => closed.push(socket)));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { s, closed, url: new URL(`http://127.0.0.1:${(s.address() as AddressInfo).port}/push`) };
}

let open: http.Server | undefined;
afterEach(() => {
  open?.closeAllConnections();
  open?.close();
  open = undefined;
});

describe('postBytes', () => {
  it('delivers the body, returns the answer, and closes its connection at once (no idle socket left to time out)', async () => {
    let received = 0;
    const srv = await server((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.end('stored'));
    });
    open = srv.s;
    const r = await postBytes(srv.url, { 'content-type': 'application/octet-stream' }, new Uint8Array(1000), 5000);
    expect(r.status).toBe(200);
    expect(r.text).toBe('stored');
    expect(received).toBe(1000);
    // The server would keep the connection for 60 s; the agent's side closes it.
    const until = Date.now() + 2000;
    while (srv.closed.length === 0 && Date.now() < until) await new Promise((w) => setTimeout(w, 20));
    expect(srv.closed.length, 'connections closed within 2 s of the answer').toBe(1);
  });

  it('gives up on a server that never answers, naming the deadline', async () => {
    const srv = await server(() => {
      // never answers
    });
    open = srv.s;
    const t0 = Date.now();
    await expect(postBytes(srv.url, {}, new Uint8Array(10), 300)).rejects.toThrow('no answer within 300 ms');
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
