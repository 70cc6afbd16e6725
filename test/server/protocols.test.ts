import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

function h2get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(url);
    client.on('error', reject);
    const req = client.request({ ':path': path });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      client.close();
      resolve({ status, body });
    });
    req.on('error', reject);
  });
}

describe('one port, HTTP/1.1 and h2c', () => {
  it('serves the same routes over HTTP/1.1 and over cleartext HTTP/2 with prior knowledge', async () => {
    const h1 = await fetch(`${srv.url}/healthz`);
    expect(h1.status).toBe(200);
    expect(await h1.json()).toEqual({ status: 'ok' });
    const h2 = await h2get(srv.url, '/healthz');
    expect(h2.status).toBe(200);
    expect(JSON.parse(h2.body)).toEqual({ status: 'ok' });
  });

  it('keeps serving HTTP/1.1 keep-alive and several h2 streams on one connection', async () => {
    const results = await Promise.all([1, 2, 3].map(() => h2get(srv.url, '/ready')));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    for (let i = 0; i < 3; i++) expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });
});
