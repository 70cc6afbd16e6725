import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config/server-config.js';
import { parseServerConfig } from '../../src/config/server-config.js';
import { Redactor } from '../../src/insight/redact.js';
import type { Summary } from '../../src/insight/summary.js';
import { estimateTokens } from '../../src/insight/summary-render.js';
import { runKiln } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * /api/v1/summary on a real server with a `summaries:` config, `kiln summarize` against it, and
 * `--llm-url` against a stand-in OpenAI-compatible endpoint that records what it was sent.
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const KEY = 'server-summary-key-0123456789abcdef';
const v14 = (i: number) => `main;http.serve;checkout.handle;checkout.parseCart;json.decode ${400 + (i === 2 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.price;db.query ${300 - (i === 3 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.render 200
main;runtime.gcBgMarkWorker;runtime.scanobject 100
`;
const v15 = (i: number) => v14(i).replace(/json\.decode (\d+)/, (_, n: string) => `json.decode ${3 * Number(n)}`);

let server: TestServer;
let config: ServerConfig;
let dir = '';
let keyFile = '';
let from = 0;
let until = 0;

function summaryUrl(params: Record<string, string>): string {
  const q = new URLSearchParams({ query: `${CPU}{service_name="checkout",version="1.5"}`, from: String(from), until: String(until), ...params });
  return `${server.url}/api/v1/summary?${q}`;
}

const baseParams = () => ({ diff_base_query: `${CPU}{service_name="checkout",version="1.4"}`, diff_base_from: String(from), diff_base_until: String(until) });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-summary-api-'));
  keyFile = path.join(dir, 'summary.key');
  await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  config = parseServerConfig(`summaries:\n  redact:\n    mode: patterns\n    patterns: ['checkout']\n    key_file: ${keyFile}\n`, 'kiln.yaml');
  server = await startTestServer({ config: () => config });
  const nowS = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 5; i++) {
    for (const [v, body] of [['1.4', v14(i)], ['1.5', v15(i)]] as const) {
      const q = new URLSearchParams({ name: `checkout.cpu{version=${v}}`, from: String(nowS - 600 + i * 60), until: String(nowS - 540 + i * 60), format: 'folded', sampleRate: '100' });
      const res = await fetch(`${server.url}/ingest?${q}`, { method: 'POST', body });
      if (!res.ok) throw new Error(`ingest: ${res.status} ${await res.text()}`);
    }
  }
  from = (nowS - 900) * 1000;
  until = (nowS + 60) * 1000;
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('/api/v1/summary', () => {
  it('text and JSON: the hot path, the hottest function and what changed against the base', async () => {
    const text = await (await fetch(summaryUrl(baseParams()))).text();
    expect(text).toContain(`Profile summary of ${CPU}{service_name="checkout",version="1.5"}, `);
    expect(text).not.toContain('unknown binary');
    expect(text).toMatch(/66\.7% {2}main → http\.serve → checkout\.handle → checkout\.parseCart → json\.decode/);
    expect(text).toMatch(/ 66\.7% self, {2}66\.7% total {2}json\.decode/);
    expect(text).toMatch(/Changes against .*version="1\.4".*\n  json\.decode: total 40\.0% → 66\.7%, self 40\.0% → 66\.7%\n  checkout\.parseCart: total 40\.0% → 66\.7%, self 0\.0% → 0\.0%\n/);
    const json = (await (await fetch(summaryUrl({ format: 'json' }))).json()) as Summary;
    expect(json.hottest[0]).toMatchObject({ name: 'json.decode' });
    expect(json.hottest[0]!.self).toBeCloseTo(6003 / 9002, 12);
    expect(json.samples).toBe(9002);
  });

  it('redact=true: the configured pattern leaves no trace, and the pseudonyms are the key\'s', async () => {
    const res = await fetch(summaryUrl({ ...baseParams(), redact: 'true' }));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/checkout/);
    const r = new Redactor(new TextEncoder().encode(KEY));
    expect(text).toContain(r.pseudonym('fn', 'checkout.parseCart'));
    expect(text).toContain(`service_name="${r.pseudonym('label', 'checkout')}"`);
    expect(text).toContain('json.decode'); // patterns mode: what no pattern names stays
    expect(await (await fetch(summaryUrl({ ...baseParams(), redact: 'true' }))).text()).toBe(text);
  });

  it('a token budget, and redaction without a key is refused before any read', async () => {
    const small = await (await fetch(summaryUrl({ max_tokens: '120' }))).text();
    expect(estimateTokens(small)).toBeLessThanOrEqual(120);
    const saved = config;
    config = parseServerConfig('summaries:\n  max_tokens: 500\n', 'kiln.yaml');
    try {
      const res = await fetch(summaryUrl({ redact: 'true' }));
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/no redaction key: set summaries\.redact\.key_file/);
    } finally {
      config = saved;
    }
  });
});

describe('kiln summarize against the server', () => {
  const sel = (v: string) => `${CPU}{service_name="checkout",version="${v}"}@${from}..${until}`;

  it('--redact with a local key and pattern, --diff-base: nothing named checkout leaves', async () => {
    const res = await runKiln(['summarize', sel('1.5'), '--diff-base', sel('1.4'), '--url', server.url, '--redact', '--redact-key-file', keyFile, '--redact-pattern', 'checkout', '--redact-mode', 'patterns'], { timeoutMs: 120_000 });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).not.toMatch(/checkout/);
    expect(res.stdout).toMatch(/json\.decode: total 40\.0% → 66\.7%/);
  }, 120_000);

  it('--llm-url: only the redacted summary is sent, and the answer comes back with names restored', async () => {
    const received: { body: string; auth: string | undefined }[] = [];
    const llm: Server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const c of req) body += String(c);
      received.push({ body, auth: req.headers.authorization });
      const prompt = (JSON.parse(body) as { messages: { content: string }[] }).messages[1]!.content;
      const hot = /fn_[0-9a-f]{10}/.exec(prompt)?.[0] ?? 'nothing';
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: `Look at ${hot} first.` } }] }));
    });
    await new Promise<void>((r) => llm.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`;
      const res = await runKiln(['summarize', sel('1.5'), '--url', server.url, '--llm-url', url, '--llm-model', 'test-model', '--redact-key-file', keyFile, '--redact-pattern', 'checkout', '--llm-api-key-env', 'KILN_TEST_LLM_KEY'], {
        timeoutMs: 120_000,
      });
      expect(res.code).toBe(0);
      expect(received).toHaveLength(1);
      const sent = JSON.parse(received[0]!.body) as { model: string; messages: { role: string; content: string }[] };
      expect(sent.model).toBe('test-model');
      expect(received[0]!.body).not.toMatch(/checkout/);
      // Allow-list mode (the default) with the pattern: the service's own functions are pseudonyms.
      expect(res.stdout.trim()).toMatch(/^Look at (checkout\.[A-Za-z]+|main|http\.serve|json\.decode|db\.query) first\.$/);
      expect(res.stdout).not.toMatch(/fn_[0-9a-f]{10}/);
    } finally {
      await new Promise<void>((r) => llm.close(() => r()));
    }
  }, 120_000);
});
