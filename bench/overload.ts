/**
 * Overload (issue 8): p99 query latency while ingest is offered at twice what the server sustains, the
 * excess shed as 429/503; /healthz latency during one large ingest with and without the decode worker
 * pool; and peak memory under the worst request the default limits accept.
 *
 *   npx tsx bench/overload.ts [--seconds 15] [--runs 3] [--senders 2] [--workers N]
 *
 * Every server runs in a child process (as `kiln server` would) on a fresh DuckDB data dir. Senders are
 * child processes too (`--senders` of them), so the offered load does not depend on one client's event
 * loop keeping up; each reports what it actually sent, and a run whose senders fell short of 1.9× the
 * capacity, or whose capacity phase shed nothing, is flagged INVALID rather than reported as an overload.
 *
 * Per run:
 * 1. Capacity: the senders push back to back (closed loop, 24 in flight each) for a third of
 *    `seconds` for an estimate, then offer 3× that open loop for `seconds`: the requests per second
 *    accepted there, past the point where the server sheds, are its capacity. (A closed loop alone
 *    measured half of what the server then absorbed open loop on this machine: it waits on the
 *    senders' own latency.)
 * 2. Overload: the senders offer 2× that, open loop (on schedule whether or not earlier requests have
 *    answered; at most 512 in flight per sender), across 4 tenants, while this process runs flame-graph
 *    queries of a fifth tenant back to back. Reported: query p50/p99 and the share answered 429/503.
 * 3. Health during a large ingest: on an idle server, the worst accepted pprof (97 336 distinct stacks,
 *    just under max_stacks_per_request) is pushed while /healthz is polled back to back; once with the
 *    pool (`--workers`, default cores − 1) and once decoding on the event loop (workers 0), same run.
 *    The same ingest gives the peak RSS.
 * Each figure is the median over `runs` runs.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { distinctStacks } from '../test/server/limits-payloads.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SELF = new URL(import.meta.url).pathname;
const TSX = ['--import', 'tsx'];
/** Requests each sender keeps in flight for the capacity estimate: under max_pending_writes_per_tenant (16) for each of the 4 tenants. */
const CAPACITY_IN_FLIGHT = 24;

/** What a sender is asked to do: closed loop (`inFlight` at a time) or open loop (`rate` per second). */
interface SendJob {
  readonly url: string;
  readonly seconds: number;
  readonly tenants: readonly string[];
  readonly inFlight?: number;
  readonly rate?: number;
}

interface SendReport {
  readonly sent: number;
  /** Requests the open loop could not send on time because 512 were already in flight. */
  readonly skipped: number;
  readonly statuses: Record<string, number>;
}

const pushOnce = (url: string, tenant: string, i: number, body: Buffer): Promise<number> =>
  fetch(`${url}/ingest?name=load${i % 50}&format=pprof`, { method: 'POST', body: body as BodyInit, headers: { 'x-scope-orgid': tenant } })
    .then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })
    .catch(() => 0);

async function runSender(job: SendJob): Promise<SendReport> {
  const body = distinctStacks(15);
  const statuses: Record<string, number> = {};
  const count = (s: number) => void (statuses[s] = (statuses[s] ?? 0) + 1);
  const until = Date.now() + job.seconds * 1000;
  let sent = 0;
  let skipped = 0;
  if (job.inFlight !== undefined) {
    await Promise.all(
      Array.from({ length: job.inFlight }, async (_, w) => {
        while (Date.now() < until) count(await pushOnce(job.url, job.tenants[w % job.tenants.length]!, sent++, body));
      }),
    );
    return { sent, skipped, statuses };
  }
  const interval = 1000 / job.rate!;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < job.seconds * 1000; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (pending.size >= 512) {
      skipped++;
      continue;
    }
    sent++;
    const p = pushOnce(job.url, job.tenants[i % job.tenants.length]!, i, body).then(count);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
  return { sent, skipped, statuses };
}

if (process.argv[2] === '--serve') {
  const { openStore } = await import('../src/store/index.js');
  const { startServer } = await import('../src/server/server.js');
  const workers = process.argv[4] === 'default' ? undefined : Number(process.argv[4]);
  const store = await openStore(process.argv[3]!, { threads: 2 });
  const server = await startServer({ store, host: '127.0.0.1', port: 0, decodeWorkers: workers });
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
} else if (process.argv[2] === '--send') {
  process.once('message', async (job) => {
    process.send!(await runSender(job as SendJob));
    process.exit(0);
  });
} else {
  const { values: flags } = parseArgs({
    options: { seconds: { type: 'string', default: '15' }, runs: { type: 'string', default: '3' }, senders: { type: 'string', default: '2' }, workers: { type: 'string', default: 'default' } },
  });
  const seconds = Number(flags.seconds);
  const runs = Number(flags.runs);
  const senders = Number(flags.senders);
  const worst = distinctStacks(46);

  interface Served {
    url: string;
    ask(): Promise<{ rssMiB: number; maxRssMiB: number }>;
    stop(): Promise<void>;
  }
  async function serve(workers: string): Promise<Served> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-overload-'));
    const child: ChildProcess = fork(SELF, ['--serve', dir, workers], { execArgv: TSX });
    const first = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));
    return {
      url: first.url,
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

  /** Runs the job split across the sender processes; their reports added up. */
  async function send(job: SendJob): Promise<SendReport> {
    const reports = await Promise.all(
      Array.from({ length: senders }, (_, k) => {
        const child = fork(SELF, ['--send'], { execArgv: TSX });
        const share: SendJob = { ...job, rate: job.rate === undefined ? undefined : job.rate / senders, tenants: job.tenants.map((t, i) => job.tenants[(i + k) % job.tenants.length]!) };
        child.send(share);
        return new Promise<SendReport>((resolve) => child.once('message', (m) => resolve(m as SendReport)));
      }),
    );
    const statuses: Record<string, number> = {};
    for (const r of reports) for (const [s, n] of Object.entries(r.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
    return { sent: reports.reduce((a, r) => a + r.sent, 0), skipped: reports.reduce((a, r) => a + r.skipped, 0), statuses };
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const tenants = ['t0', 't1', 't2', 't3'];

  /** /healthz polled back to back while the worst accepted request is ingested; its latencies and the server's peak RSS. */
  async function healthDuringLargeIngest(workers: string): Promise<{ p50: number; max: number; polls: number; ingestS: number; peakMiB: number; baseMiB: number }> {
    const m = await serve(workers);
    await fetch(`${m.url}/ingest?name=warm&format=folded`, { method: 'POST', body: 'a;b 1\n' }); // routes and the decode thread warm
    const base = await m.ask();
    let done = false;
    const t0 = performance.now();
    const ingest = fetch(`${m.url}/ingest?name=worst&format=pprof`, { method: 'POST', body: worst as BodyInit })
      .then(async (r) => ({ status: r.status, text: await r.text() }))
      .finally(() => (done = true));
    const health: number[] = [];
    while (!done) {
      const t = performance.now();
      await (await fetch(`${m.url}/healthz`)).arrayBuffer();
      health.push(performance.now() - t);
    }
    const { status, text } = await ingest;
    const ingestS = (performance.now() - t0) / 1000;
    if (status !== 200) throw new Error(`worst accepted request answered ${status}: ${text.slice(0, 300)}`);
    const after = await m.ask();
    await m.stop();
    return { p50: pct(health, 0.5), max: Math.max(...health), polls: health.length, ingestS, peakMiB: after.maxRssMiB, baseMiB: base.rssMiB };
  }

  interface Run {
    capacity: number;
    offered: number;
    valid: boolean;
    p50: number;
    p99: number;
    shed: number;
    pool: Awaited<ReturnType<typeof healthDuringLargeIngest>>;
    loop: Awaited<ReturnType<typeof healthDuringLargeIngest>>;
  }
  const rows: Run[] = [];
  console.log(`load before: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} CPUs; ${senders} sender processes; server workers ${flags.workers}`);

  for (let run = 0; run < runs; run++) {
    const s = await serve(flags.workers);
    // 1. Capacity: a closed-loop estimate, then an open loop at 3× it, past what the server sustains
    // (it sheds); what it accepts there is its capacity under overload.
    const probeS = Math.max(3, Math.round(seconds / 3));
    const probe = await send({ url: s.url, seconds: probeS, tenants, inFlight: CAPACITY_IN_FLIGHT });
    const estimate = (probe.statuses['200'] ?? 0) / probeS;
    const saturating = await send({ url: s.url, seconds, tenants, rate: 3 * estimate });
    const capacity = (saturating.statuses['200'] ?? 0) / seconds;
    const saturated = (saturating.statuses['429'] ?? 0) + (saturating.statuses['503'] ?? 0) > 0;
    await pushOnce(s.url, 'reader', 0, distinctStacks(15));

    // 2. 2× capacity, open loop, with a reader.
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
        if (r.status !== 200) throw new Error(`query answered ${r.status}`);
        latencies.push(performance.now() - t);
      }
    })();
    const over = await send({ url: s.url, seconds, tenants, rate: 2 * capacity });
    stop = true;
    await reader;
    await s.stop();
    const offered = over.sent / seconds;
    const shedCount = (over.statuses['429'] ?? 0) + (over.statuses['503'] ?? 0);

    // 3. Health during one large ingest: pool, then event loop.
    const pool = await healthDuringLargeIngest(flags.workers);
    const loop = await healthDuringLargeIngest('0');
    const row: Run = { capacity, offered, valid: saturated && offered >= 1.9 * capacity && over.skipped === 0, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), shed: shedCount / over.sent, pool, loop };
    rows.push(row);
    console.log(
      `run ${run + 1}: closed-loop estimate ${estimate.toFixed(1)} req/s; capacity ${capacity.toFixed(1)} req/s accepted at 3× that${saturated ? '' : ' (nothing shed: a lower bound)'}; offered ${offered.toFixed(1)} req/s (${(offered / capacity).toFixed(2)}×${row.valid ? '' : ', INVALID'}, ${over.skipped} skipped); ` +
        `query p50 ${row.p50.toFixed(0)} ms p99 ${row.p99.toFixed(0)} ms over ${latencies.length}; statuses ${JSON.stringify(over.statuses)} (shed ${(row.shed * 100).toFixed(1)} %); ` +
        `/healthz during the worst ingest: pool p50 ${pool.p50.toFixed(1)} max ${pool.max.toFixed(0)} ms (${pool.polls} polls, ingest ${pool.ingestS.toFixed(1)} s), ` +
        `event loop p50 ${loop.p50.toFixed(1)} max ${loop.max.toFixed(0)} ms (${loop.polls} polls, ingest ${loop.ingestS.toFixed(1)} s); ` +
        `peak RSS ${pool.peakMiB.toFixed(0)} MiB from ${pool.baseMiB.toFixed(0)} (event loop: ${loop.peakMiB.toFixed(0)} from ${loop.baseMiB.toFixed(0)}); load ${os.loadavg()[0]!.toFixed(1)}`,
    );
  }
  const med = (f: (r: Run) => number) => median(rows.map(f));
  console.log(
    `median of ${runs} (${rows.filter((r) => r.valid).length} valid): capacity ${med((r) => r.capacity).toFixed(1)} req/s (3 375-stack pprof.gz); at ${med((r) => r.offered / r.capacity).toFixed(2)}× offered: ` +
      `query p99 ${med((r) => r.p99).toFixed(0)} ms, p50 ${med((r) => r.p50).toFixed(0)} ms, shed ${(med((r) => r.shed) * 100).toFixed(1)} %; ` +
      `/healthz during the worst ingest: max ${med((r) => r.pool.max).toFixed(0)} ms with the pool vs ${med((r) => r.loop.max).toFixed(0)} ms on the event loop ` +
      `(ratio ${med((r) => r.loop.max / r.pool.max).toFixed(1)}×), p50 ${med((r) => r.pool.p50).toFixed(1)} vs ${med((r) => r.loop.p50).toFixed(1)} ms; ` +
      `worst request peak RSS ${med((r) => r.pool.peakMiB).toFixed(0)} MiB (pool) / ${med((r) => r.loop.peakMiB).toFixed(0)} MiB (event loop); load ${os.loadavg()[0]!.toFixed(1)}`,
  );
}
