import http from 'node:http';
import { threadCpuSeconds } from './process-cpu.js';

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
   * Main-thread CPU (seconds) of this request's own turns: writing it and taking the answer. What runs
   * while the answer is awaited (the agent's other timers), and V8's other threads, are not in it.
   */
  readonly cpuSeconds: number;
}

type Requester = Pick<typeof http, 'request'>;
let https: Promise<Requester> | undefined;

export async function postBytes(url: URL, headers: Record<string, string>, body: Uint8Array, timeoutMs: number): Promise<PostResult> {
  // TLS is loaded only by agents that talk https.
  const client: Requester = url.protocol === 'https:' ? await (https ??= import('node:https').then((m) => m.default)) : http;
  return new Promise<PostResult>((resolve, reject) => {
    const start = threadCpuSeconds();
    let spent = 0;
    // A connection per request (agent: false): at one request per interval a kept-alive socket only waits
    // for the server's keep-alive timeout (node's: 5 s) to close it — a timer that wakes the agent, and a
    // reset when the next request races the close (about once a minute against a node server, then a
    // resend after a second). The deadline is a timer cleared with the request: AbortSignal.timeout's
    // stays armed and wakes the agent once more per request after it finished.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    deadline.unref();
    const fail = (e: Error) => {
      clearTimeout(deadline);
      reject(e);
    };
    const req = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.byteLength) }, agent: false }, (res) => {
      const answered = threadCpuSeconds();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (text.length < 300) text += c;
      });
      res.on('end', () => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, text: text.slice(0, 300), cpuSeconds: spent + threadCpuSeconds() - answered });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
    spent = threadCpuSeconds() - start;
  });
}
