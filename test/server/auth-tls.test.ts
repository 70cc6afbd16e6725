import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { TOKENS, authConfig, bearer } from './auth-support.js';

/** `kiln server --tls-cert --tls-key`: HTTPS on the one port, HTTP/1.1 and h2 (gRPC needs h2), with auth. */
let dir: string;
let srv: TestServer;
let ca: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  // A self-signed certificate for 127.0.0.1, as an operator would make one for a test.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  ca = await readFile(cert);
  const config = authConfig();
  srv = await startTestServer({ config: () => config, tls: { certFile: cert, keyFile: key } });
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

function httpsGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol: `HTTP/${res.httpVersion}` }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('direct TLS', () => {
  it('answers HTTPS (HTTP/1.1) with the certificate, and auth applies as on cleartext', async () => {
    expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpsGet(`${srv.url}/healthz`)).toMatchObject({ status: 200, protocol: 'HTTP/1.1' });
    expect((await httpsGet(`${srv.url}/api/v1/whoami`)).status).toBe(401);
    const me = await httpsGet(`${srv.url}/api/v1/whoami`, bearer(TOKENS.shop));
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ principal: 'shop-team', tenant: 'acme' });
  });

  it('negotiates h2 by ALPN (what gRPC clients need) and serves a Connect call over it', async () => {
    const session = http2.connect(srv.url, { ca });
    try {
      const { status, body, alpn } = await new Promise<{ status: number; body: string; alpn: string }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/querier.v1.QuerierService/LabelNames', 'content-type': 'application/json', ...bearer(TOKENS.admin) });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => resolve({ status, body, alpn: String(session.alpnProtocol) }));
        req.on('error', reject);
        req.end(JSON.stringify({ matchers: [] }));
        req.setTimeout(10_000, () => req.close());
      });
      expect(alpn).toBe('h2');
      expect(status, body).toBe(200);
      // An empty store: Connect JSON leaves the empty list out.
      expect((JSON.parse(body) as { names?: string[] }).names ?? []).toEqual([]);
      const denied = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/querier.v1.QuerierService/LabelNames', 'content-type': 'application/json' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end('{}');
      });
      expect(denied).toBe(401);
    } finally {
      session.close();
    }
  });

  it('a cleartext request to the TLS port gets no answer', async () => {
    const plain = srv.url.replace('https:', 'http:');
    await expect(fetch(`${plain}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });
});
