import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI, as a cluster CA would sign one. */
export function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  const key = path.join(dir, 'apiserver.key');
  const cert = path.join(dir, 'apiserver.crt');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  } catch (e) {
    throw new Error(`the API server replay needs the openssl CLI to make a test certificate: ${(e as Error).message}`);
  }
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string;
}

/**
 * Stands in for the Kubernetes API server by replaying recorded responses: each list request gets the
 * next of `lists`, each watch request the next of `watches` (JSON lines). A watch script ending in
 * `hold` keeps the stream open like a live watch; otherwise the stream ends after its events.
 */
export async function startFakeApiServer(opts: {
  key: Buffer;
  cert: Buffer;
  token: string;
  lists: string[];
  watches: Array<{ events: string; hold: boolean }>;
}): Promise<{ url: string; port: number; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  let list = 0;
  let watch = 0;
  const open = new Set<import('node:http').ServerResponse>();
  const server = https.createServer({ key: opts.key, cert: opts.cert }, (req, res) => {
    const u = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push({ path: u.pathname, query: u.searchParams, authorization: req.headers.authorization ?? '' });
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401,"message":"Unauthorized"}');
      return;
    }
    if (u.pathname !== '/api/v1/pods') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (u.searchParams.get('watch') !== '1') {
      res.end(opts.lists[Math.min(list++, opts.lists.length - 1)]);
      return;
    }
    const script = opts.watches[Math.min(watch++, opts.watches.length - 1)]!;
    // Events one write at a time, the last one split mid-line, as a real chunked stream may arrive.
    const lines = script.events.split('\n').filter(Boolean);
    for (const l of lines.slice(0, -1)) res.write(`${l}\n`);
    const last = lines[lines.length - 1];
    if (last) {
      res.write(last.slice(0, 20));
      res.write(`${last.slice(20)}\n`);
    }
    if (script.hold) open.add(res);
    else res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    requests,
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
