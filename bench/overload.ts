/**
 * Overload (issue 8): p99 query latency while ingest is offered at twice what the server sustains, the
 * excess shed as 429/503; and peak memory under the worst request the default limits accept.
 *
 *   npx tsx bench/overload.ts [seconds=15] [runs=3]
 *
 * The server runs in a child process (as `kiln server` would) on a fresh DuckDB data dir per run.
 * Phase 1 measures capacity: 16 pushers back to back for `seconds`, completed requests/s. Phase 2 offers
 * 2× that, open loop (requests are sent on schedule whether or not earlier ones finished), across 4
 * tenants, while one reader of a fifth tenant runs flame-graph queries back to back. Phase 3 pushes one
 * pprof of 97 336 distinct stacks (just under max_stacks_per_request) to an idle server and reads its
 * peak RSS. Each figure is the median over `runs` runs.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { distinctStacks } from '../test/server/limits-payloads.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

if (process.argv[2] === '--serve') {
  const { openStore } = await import('../src/store/index.js');
  const { startServer } = await import('../src/server/server.js');
  const store = await openStore(process.argv[3]!, { threads: 2 });
  const server = await startServer({ store, host: '127.0.0.1', port: 0 });
  process.send!({ url: server.url, rssMiB: process.memoryUsage().rss / 2 ** 20 });
  process.on('message', async (m) => {
    if (m === 'mem') {
      process.send!({ rssMiB: process.memoryUsage().rss / 2 ** 20, maxRssMiB: process.resourceUsage().maxRSS / 1024 });
      return;
    }
    await server.close();
    await store.close();
    process.exit(0);
  });
} else {
  const seconds = Number(process.argv[3] ?? process.argv[2] ?? 15);
  const runs = Number(process.argv[4] ?? process.argv[3] ?? 3);
  const payload = distinctStacks(15);
  const worst = distinctStacks(46);

  interface Served {
    child: ChildProcess;
    url: string;
    dir: string;
    ask(): Promise<{ rssMiB: number; maxRssMiB: number }>;
    stop(): Promise<void>;
  }
  async function serve(): Promise<Served> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-overload-'));
    const child = fork(new URL(import.meta.url).pathname, ['--serve', dir], { execArgv: ['--import', 'tsx'] });
    const first = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));
    return {
      child,
      url: first.url,
      dir,
      ask: () =>
        new Promise((resolve) => {
          child.once('message', (m) => resolve(m as { rssMiB: number; maxRssMiB: number }));
          child.send('mem');
        }),
      async stop() {
        child.send('stop');
        await new Promise((r) => child.once('exit', r));
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  const push = (url: string, tenant: string, i: number) =>
    fetch(`${url}/ingest?name=load${i % 50}&format=pprof`, { method: 'POST', body: payload, headers: { 'x-scope-orgid': tenant } })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const rows: { capacity: number; p50: number; p99: number; queries: number; statuses: Record<string, number>; peakMiB: number; baseMiB: number }[] = [];

  for (let run = 0; run < runs; run++) {
    const s = await serve();
    // Phase 1: capacity, closed loop.
    let done = 0;
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; Date.now() < until; i++) if ((await push(s.url, `t${w % 4}`, i)) === 200) done++;
      }),
    );
    const capacity = done / seconds;
    await push(s.url, 'reader', 0);

    // Phase 2: 2× capacity, open loop, with a reader.
    const statuses: Record<string, number> = {};
    const latencies: number[] = [];
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const t = performance.now();
        const r = await fetch(`${s.url}/querier.v1.QuerierService/SelectMergeStacktraces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-scope-orgid': 'reader' },
          body: JSON.stringify({ profile_typeID: CPU, label_selector: '{}', start: '0', end: String(Date.now() + 60_000) }),
        });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
      }
    })();
    const sent: Promise<void>[] = [];
    const interval = 1000 / (2 * capacity);
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < seconds * 1000; i++) {
      const due = t0 + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push(push(s.url, `t${i % 4}`, i).then((st) => void (statuses[st] = (statuses[st] ?? 0) + 1)));
    }
    await Promise.all(sent);
    stop = true;
    await reader;
    await s.stop();

    // Phase 3: the worst accepted request on an idle server.
    const m = await serve();
    const base = await m.ask();
    const status = await fetch(`${m.url}/ingest?name=worst&format=pprof`, { method: 'POST', body: worst }).then((r) => r.status);
    if (status !== 200) throw new Error(`worst accepted request answered ${status}`);
    const after = await m.ask();
    await m.stop();
    rows.push({ capacity, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), queries: latencies.length, statuses, peakMiB: after.maxRssMiB, baseMiB: base.rssMiB });
    console.log(`run ${run + 1}: capacity ${capacity.toFixed(1)} req/s; at 2×: query p50 ${pct(latencies, 0.5).toFixed(0)} ms p99 ${pct(latencies, 0.99).toFixed(0)} ms over ${latencies.length} queries; statuses ${JSON.stringify(statuses)}; worst request: RSS ${base.rssMiB.toFixed(0)} → peak ${after.maxRssMiB.toFixed(0)} MiB`);
  }
  console.log(
    `median of ${runs}: capacity ${median(rows.map((r) => r.capacity)).toFixed(1)} req/s (3 375-stack pprof, 16 pushers); at 2× offered: query p99 ${median(rows.map((r) => r.p99)).toFixed(0)} ms, p50 ${median(rows.map((r) => r.p50)).toFixed(0)} ms; worst accepted request (97 336 distinct stacks) peak RSS ${median(rows.map((r) => r.peakMiB)).toFixed(0)} MiB from ${median(rows.map((r) => r.baseMiB)).toFixed(0)} MiB idle; load ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs`,
  );
}
