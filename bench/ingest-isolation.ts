/**
 * Issue 8, a bad or large request costs its sender, not the others — on a real server with the default
 * limits and decode pool:
 * 1. Refusals: the time from sending each hostile payload of the first paragraph
 *    (test/server/limits-payloads.ts builds them as raw protobuf) to the 413 naming its limit; the
 *    anchor, same run, is a one-sample push. Median/max of `--runs` after one warm-up.
 * 2. Others during the worst accepted ingest (97 336 distinct stacks, just under max_stacks_per_request):
 *    /healthz and another tenant's flame-graph query (/pyroscope/render over its last hour), each polled
 *    back to back while the ingest runs; the anchor is the same query on the idle server.
 *
 *   npx tsx bench/ingest-isolation.ts --runs 7
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../src/server/server.js';
import { openStore } from '../src/store/index.js';
import { deepStack, distinctStacks, manyStrings, oneFrameSamples } from '../test/server/limits-payloads.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(args.runs);

const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-refusal-'));
const store = await openStore(dir, { threads: 2 });
const server = await startServer({ store, host: '127.0.0.1', port: 0 });

const payloads: [string, Buffer][] = [
  ['accepted: one sample (anchor)', oneFrameSamples(1)],
  ['10 M one-frame samples (87 KB gzipped)', oneFrameSamples(10_000_000)],
  ['1 M distinct stacks', distinctStacks(100)],
  ['one stack 100 000 frames deep', deepStack(100_000)],
  ['1.5 M string-table entries', manyStrings(1_500_000)],
];

try {
  const rows = [];
  for (const [name, body] of payloads) {
    let status = 0;
    let message = '';
    const send = async () => {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/ingest?name=bench&format=pprof&from=${Math.floor(Date.now() / 1000)}`, { method: 'POST', body: body as BodyInit });
      message = (await res.text()).slice(0, 120);
      status = res.status;
      return performance.now() - t0;
    };
    await send();
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push(await send());
    ms.sort((a, b) => a - b);
    rows.push({ payload: name, kib: +(body.length / 1024).toFixed(1), status, medianMs: +ms[Math.floor(ms.length / 2)]!.toFixed(1), maxMs: +ms[ms.length - 1]!.toFixed(1), answer: message });
  }
  console.table(rows);

  // 2. Another tenant reads while the worst accepted ingest runs.
  const reader = { 'X-Scope-OrgID': 'reader' };
  const now = Math.floor(Date.now() / 1000);
  const seeded = await fetch(`${server.url}/ingest?name=reader&format=pprof&from=${now - 60}`, { method: 'POST', headers: reader, body: distinctStacks(15) as BodyInit });
  if (seeded.status !== 200) throw new Error(`seeding the reader answered ${seeded.status}`);
  const queryUrl = `${server.url}/pyroscope/render?query=${encodeURIComponent('process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="reader"}')}&from=now-1h&until=now&format=json`;
  const timed = async (url: string, headers: Record<string, string> = {}) => {
    const t0 = performance.now();
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    return performance.now() - t0;
  };
  const idle: number[] = [];
  for (let i = 0; i < runs; i++) idle.push(await timed(queryUrl, reader));
  const worst = distinctStacks(46);
  const during = { healthz: [] as number[], query: [] as number[] };
  let done = false;
  const t0 = performance.now();
  const ingest = fetch(`${server.url}/ingest?name=worst&format=pprof&from=${now}`, { method: 'POST', body: worst as BodyInit }).then(async (r) => {
    await r.text();
    done = true;
    return r.status;
  });
  const poll = async (list: number[], url: string, headers?: Record<string, string>) => {
    while (!done) list.push(await timed(url, headers));
  };
  await Promise.all([poll(during.healthz, `${server.url}/healthz`), poll(during.query, queryUrl, reader)]);
  const status = await ingest;
  const stats = (ms: number[]) => {
    const s2 = [...ms].sort((a, b) => a - b);
    return { n: s2.length, medianMs: +s2[Math.floor(s2.length / 2)]!.toFixed(1), maxMs: +s2[s2.length - 1]!.toFixed(1) };
  };
  console.table([
    { what: 'flame-graph query, idle server (anchor)', ...stats(idle) },
    { what: `/healthz during the worst accepted ingest (${status}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`, ...stats(during.healthz) },
    { what: 'flame-graph query of another tenant, same time', ...stats(during.query) },
  ]);
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await server.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
