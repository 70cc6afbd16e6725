import http from 'node:http';
import { processCpuSeconds } from './process-cpu.js';

/**
 * One POST of a byte body with node's own http client. fetch would do, but its implementation (undici)
 * is loaded on first use and costs the agent ≈ 20 MiB of RSS for one request every 10 s — a third of
 * what the agent owns; node:http costs ≈ 2 MiB. fetch stays for multipart bodies (`--protocol pyroscope`).
 */

export interface PostResult {
  readonly status: number;
  /** Start of the response body (up to 300 characters), for error messages. */
  readonly text: string;
  /**
   * CPU (user + sys, seconds) of this request's own turns: writing it and taking the answer. What runs
   * while the answer is awaited (the agent's other timers) is not in it.
   */
  readonly cpuSeconds: number;
}

type Requester = Pick<typeof http, 'request'>;
let https: Promise<Requester> | undefined;

export async function postBytes(url: URL, headers: Record<string, string>, body: Uint8Array, timeoutMs: number): Promise<PostResult> {
  // TLS is loaded only by agents that talk https.
  const client: Requester = url.protocol === 'https:' ? await (https ??= import('node:https').then((m) => m.default)) : http;
  return new Promise<PostResult>((resolve, reject) => {
    const start = processCpuSeconds();
    let spent = 0;
    const req = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.byteLength) }, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const answered = processCpuSeconds();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (text.length < 300) text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: text.slice(0, 300), cpuSeconds: spent + processCpuSeconds() - answered }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
    spent = processCpuSeconds() - start;
  });
}
