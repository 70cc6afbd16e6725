/**
 * Ingest throughput through the whole server (HTTP parse → decode → validate → DuckDB write) and the
 * server's RSS, for agent-sized CPU profiles (bench/store-data.ts: 19 Hz × 16 CPUs, 10 s each).
 *
 *   npx tsx bench/server-ingest.ts [profiles=720] [concurrency=4] [workers=default]
 *
 * The server runs in a child process (as `kiln server` would), so the client's own encoding and
 * HTTP work do not count against it, and its RSS and CPU time (all its threads, DuckDB's included)
 * are its own. Payloads are pre-encoded gzipped pprof. Agents push one profile per process every
 * 10 s, so a server sees many requests in flight at once: concurrency 8–16 is the realistic case,
 * and it is what lets the store group-commit them. `workers`: the server's decode threads (default
 * cores − 1; 0 decodes on the event loop, as before the pool), to compare the two.
 */
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { gzipSync } from 'node:zlib';
import { RowsEncoder, rowsRequestBody } from '../src/agent/exporter-rows.js';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { PushRequestSchema } from '../src/gen/push/v1/push_pb.js';
import { INTERVAL_MS, ServiceModel, profileTimes } from './store-data.js';
import { threadCpuSeconds } from './thread-cpu.js';

/**
 * BENCH_THREADS=1: the server's CPU per thread in ms (bench/thread-cpu.ts, Linux only): `main`, and
 * the others by thread id (V8's platform threads, libuv's pool where DuckDB's statements run, the
 * decode workers: the busiest in a pprof pass is the decode worker).
 */
function threadCpuMs(): Record<string, number> {
  const seconds = threadCpuSeconds((tid) => `tid ${tid}`);
  return Object.fromEntries(Object.entries(seconds).map(([name, s]) => [name, Math.round(s * 1000)]));
}

/**
 * With BENCH_THREADS=1 too: the main thread's minor page faults (memory it touched for the first time: fresh
 * pages of buffers it allocated) and its voluntary context switches (each one a sleep, so a later wake-up),
 * from /proc/self/task/PID/stat and status — counts the host's load does not move, unlike its CPU time.
 */
function mainThreadCounts(): Record<string, number> {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the command's closing parenthesis: state is the first, minflt (field 10 of the file) the eighth.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  const switches = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return { 'minor faults': Number(fields[7]), 'sleeps (voluntary switches)': switches };
}

/**
 * BENCH_COUNTS=1: what the server did in each pass, counts the host's load does not move — DuckDB
 * commits, appender closes and chunks, statements run (SQL text or prepared), appenders created
 * (bench/duckdb-counts.ts), data chunks built, and the bytes the main thread's JS heap allocated (used heap now − then +
 * what every GC freed, from v8.GCProfiler). Read with the CPU at each 'cpu' message, so a pass's counts are a difference.
 */
type ServerCounts = Record<string, number>;
async function countServerWork(): Promise<() => ServerCounts> {
  const { countDuckDBCalls } = await import('./duckdb-counts.js');
  const counts: ServerCounts = { commits: 0, 'commit profiles': 0, 'appender closes': 0, 'appender chunks': 0, 'appenders created': 0, 'SQL runs': 0, 'prepared runs': 0, 'data chunks built': 0 };
  countDuckDBCalls(counts);
  // Data chunks built for appending (src/store/duckdb/column-chunks.ts): ≈ 0.5 ms of CPU each.
  const { DuckDBDataChunk } = await import('@duckdb/node-api');
  const buildChunk = DuckDBDataChunk.create;
  DuckDBDataChunk.create = (...args: Parameters<typeof buildChunk>) => {
    counts['data chunks built']!++;
    return buildChunk.apply(DuckDBDataChunk, args);
  };
  const v8 = await import('node:v8');
  let freed = 0;
  let gcs = 0;
  let profiler = new v8.GCProfiler();
  profiler.start();
  const used0 = v8.getHeapStatistics().used_heap_size;
  return () => {
    const data = profiler.stop() as { statistics?: { beforeGC: { heapStatistics: { usedHeapSize: number } }; afterGC: { heapStatistics: { usedHeapSize: number } } }[] } | undefined;
    for (const g of data?.statistics ?? []) {
      gcs++;
      freed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
    }
    profiler = new v8.GCProfiler();
    profiler.start();
    return { ...counts, GCs: gcs, 'MB allocated': (v8.getHeapStatistics().used_heap_size - used0 + freed) / 1e6 };
  };
}

type InspectorSession = import('node:inspector/promises').Session;

/**
 * A profile of the server's main thread for each pass alone, through the inspector: at each 'cpu'
 * reading the running one is stopped and written (`<prefix>-N.<ext>`, N counting readings), and a new one started.
 */
async function inspectorPasses(dir: string, file: (n: number) => string, start: (s: InspectorSession) => Promise<unknown>, stop: (s: InspectorSession) => Promise<object>): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  let n = 0;
  let running = false;
  return async () => {
    if (running) writeFileSync(path.join(dir, file(n)), JSON.stringify(await stop(session)));
    n++;
    await start(session);
    running = true;
  };
}

/** BENCH_PASS_PROF=dir: a V8 CPU profile of each pass (pass-N.cpuprofile). */
async function profilePasses(dir: string): Promise<() => Promise<void>> {
  let enabled = false;
  return inspectorPasses(
    dir,
    (n) => `pass-${n}.cpuprofile`,
    async (session) => {
      if (!enabled) {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        enabled = true;
      }
      await session.post('Profiler.start');
    },
    async (session) => (await session.post('Profiler.stop')).profile,
  );
}

/**
 * BENCH_ALLOC_PROF=dir: what the main thread allocated in each pass, by function (alloc-N.heapprofile) —
 * V8's sampling heap profiler (one sample per 32 KiB on average) with the objects later collected kept
 * in, so the samples are allocations, not what is still alive. Bytes allocated do not move with the host's load.
 */
async function allocationPasses(dir: string): Promise<() => Promise<void>> {
  return inspectorPasses(
    dir,
    (n) => `alloc-${n}.heapprofile`,
    (session) => session.post('HeapProfiler.startSampling', { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }),
    async (session) => (await session.post('HeapProfiler.stopSampling')).profile,
  );
}

/**
 * BENCH_PERF_CTL=fifo (perf record's --control fifo:FIFO, started with -D -1, i.e. disabled) and
 * BENCH_PERF_READINGS=a,b: perf records the server from its a-th 'cpu' reading to its b-th, i.e. one
 * pass (DuckDB's native work included, every thread), e.g. 7,8 for the steady rows pass of BENCH_ONLY=rows.
 */
function perfControl(): (() => void) | undefined {
  const fifo = process.env.BENCH_PERF_CTL;
  if (!fifo) return undefined;
  const [on, off] = (process.env.BENCH_PERF_READINGS ?? '7,8').split(',').map(Number);
  let reading = 0;
  return () => {
    reading++;
    if (reading === on) writeFileSync(fifo, 'enable\n');
    if (reading === off) writeFileSync(fifo, 'disable\n');
  };
}

if (process.argv[2] === '--serve') {
  const perfReading = perfControl();
  const countsNow = process.env.BENCH_COUNTS ? await countServerWork() : undefined;
  const nextProfile = process.env.BENCH_PASS_PROF ? await profilePasses(process.env.BENCH_PASS_PROF) : undefined;
  const nextAllocations = process.env.BENCH_ALLOC_PROF ? await allocationPasses(process.env.BENCH_ALLOC_PROF) : undefined;
  const { openStore } = await import('../src/store/index.js');
  const { startServer } = await import('../src/server/server.js');
  const store = await openStore(process.argv[3]!, { threads: 1 });
  const workers = process.argv[4] === 'default' ? undefined : Number(process.argv[4]);
  const server = await startServer({ store, host: '127.0.0.1', port: 0, decodeWorkers: workers });
  process.send!({ url: server.url });
  process.on('message', async (m) => {
    // 'cpu': the server process's CPU time so far (all threads: JS, DuckDB, zlib), for CPU per row.
    if (m === 'cpu') {
      perfReading?.();
      const u = process.cpuUsage();
      process.send!({ cpuMs: (u.user + u.system) / 1000, threads: process.env.BENCH_THREADS ? threadCpuMs() : undefined, main: process.env.BENCH_THREADS ? mainThreadCounts() : undefined, counts: countsNow?.() });
      await nextProfile?.();
      await nextAllocations?.();
      return;
    }
    await server.close();
    await store.close();
    process.exit(0);
  });
} else {
  const n = Number(process.argv[2] ?? 720);
  const concurrency = Number(process.argv[3] ?? 4);
  const workers = process.argv[4] ?? 'default';
  const model = new ServiceModel();
  const times = profileTimes((Math.ceil(n / 4) * INTERVAL_MS) / 3_600_000, Date.UTC(2026, 0, 20, 6));
  // Four pods of one service, as four agents would push them.
  const profiles = times.flatMap((t) => [0, 1, 2, 3].map((pod) => model.profile(t, { service_name: 'checkout', pod: `checkout-${pod}` }))).slice(0, n);
  const rows = profiles.reduce((a, p) => a + p.values.length, 0);
  const payloads = profiles.map((p) => encodePprofGzip(p));
  const bytes = payloads.reduce((a, p) => a + p.length, 0);
  const pushBodies = profiles.map((p, i) =>
    toBinary(PushRequestSchema, create(PushRequestSchema, {
      series: [{ labels: p.labels.map((l) => ({ name: l.name, value: l.value })).concat([{ name: '__name__', value: 'process_cpu' }]), samples: [{ rawProfile: payloads[i]! }] }],
    })),
  );

  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-server-'));
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of the server process there (where does the time go?).
  const profArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  // BENCH_SERVER_FLAGS='--trace-gc …': more node flags for the server process only.
  const extraArgs = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((a) => a !== '');
  const child = fork(new URL(import.meta.url).pathname, ['--serve', dir, workers], { execArgv: ['--import', 'tsx', ...profArgs, ...extraArgs] });
  // If this client fails, its server must not outlive it (it would hold a core and a port).
  process.once('exit', () => child.kill('SIGKILL'));
  const { url } = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));

  type CpuReading = { cpuMs: number; threads?: Record<string, number>; main?: Record<string, number>; counts?: ServerCounts };
  const serverCpu = () =>
    new Promise<CpuReading>((resolve) => {
      child.once('message', (m) => resolve(m as CpuReading));
      child.send('cpu');
    });

  /** `count` requests; printed unless a warm-up, with `sentBytes` (default: the gzipped pprofs) as the bytes sent. */
  async function run(label: string, send: (i: number) => Promise<Response>, count = payloads.length, print = count === payloads.length, sentBytes = bytes): Promise<void> {
    let next = 0;
    const cpu0 = await serverCpu();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          const res = await send(i);
          if (!res.ok) throw new Error(`${label}: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const cpu1 = await serverCpu();
    const cpuS = (cpu1.cpuMs - cpu0.cpuMs) / 1000;
    if (!print) return; // a warm-up
    console.log(
      `${label.padEnd(28)} ${payloads.length} profiles in ${count} requests, ${rows} rows, ${(sentBytes / 1024 / 1024).toFixed(1)} MiB in ${s.toFixed(2)} s: ` +
        `${Math.round(rows / s).toLocaleString('en')} rows/s, ${(payloads.length / s).toFixed(0)} profiles/s; ` +
        `server CPU ${cpuS.toFixed(2)} s = ${Math.round(rows / cpuS).toLocaleString('en')} rows per CPU-second (${((cpuS / rows) * 1e6).toFixed(1)} µs/row)`,
    );
    if (cpu1.counts) {
      const c0 = cpu0.counts!;
      const per = Object.entries(cpu1.counts).map(([k, v]) => `${k} ${(v - (c0[k] ?? 0)).toFixed(k.startsWith('MB') ? 1 : 0)} (${((v - (c0[k] ?? 0)) / count).toFixed(k.startsWith('MB') ? 3 : 2)}/request)`);
      console.log(`  server work in the pass: ${per.join(', ')}`);
    }
    if (cpu1.threads) {
      const per = Object.entries(cpu1.threads).map(([k, v]) => [k, v - (cpu0.threads?.[k] ?? 0)] as const).filter(([, v]) => v > 0);
      console.log(`  server CPU per thread, ms: ${per.sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    if (cpu1.main) {
      const per = Object.entries(cpu1.main).map(([k, v]) => `${k} ${v - (cpu0.main?.[k] ?? 0)} (${((v - (cpu0.main?.[k] ?? 0)) / count).toFixed(1)}/request)`);
      console.log(`  server main thread: ${per.join(', ')}`);
    }
  }

  // Not measured: JIT warm-up, and the decode threads' start (from the sources they compile TypeScript).
  // BENCH_WARMUP=k: k warm-up pushes to /ingest instead of 40 (the payloads again, in turn). V8 optimizes a
  // function run once per request only after several hundred requests, so with 40 the passes below run
  // the per-request code (fastify, hooks, handler) mostly unoptimized, as a server does only in its first
  // minutes; a long warm-up shows what such code costs once optimized.
  const warmups = Number(process.env.BENCH_WARMUP ?? Math.min(40, payloads.length));
  await run('warm-up (not measured)', (i) => fetch(`${url}/ingest?name=warmup.cpu{pod=w-${i}}&format=pprof`, { method: 'POST', body: payloads[i % payloads.length] as BodyInit }), warmups, false);
  // Distinct pod label per pass so the second pass is new data, not an idempotent replay.
  // BENCH_ONLY=rows: only the rows push; =steady: only its steady state (a CPU profile of it alone);
  // =pprof: only the two pprof passes (`/ingest` and push.v1), the rows push's passes left out.
  const only = process.env.BENCH_ONLY;
  const pprofPasses = only === undefined || only === 'pprof';
  if (pprofPasses) await run('POST /ingest (pprof.gz)', (i) =>
    fetch(`${url}/ingest?name=checkout.cpu{pod=ingest-${i % 4}}&format=pprof`, { method: 'POST', body: payloads[i] as BodyInit, headers: { 'content-type': 'application/octet-stream' } }),
  );
  if (pprofPasses) await run('push.v1 Push (Connect proto)', (i) =>
    fetch(`${url}/push.v1.PusherService/Push`, { method: 'POST', body: pushBodies[i], headers: { 'content-type': 'application/proto' } }),
  );
  if (only !== 'pprof') {
    // Kiln's own agent protocol (formats/kiln-rows.ts), as four agents (one per pod) would send it: each
    // encoder sends a stack's symbols until it has been confirmed, then only rows. Encoded ahead, like the
    // other payloads; a 409 (a stack named before the request that carried it was stored) is answered as the
    // agent does, by sending the request again with every symbol (counted below).
    const encoders = [0, 1, 2, 3].map(() => new RowsEncoder());
    const relabel = (prefix: string) => profiles.map((p, i) => ({ ...p, labels: p.labels.map((l) => (l.name === 'pod' ? { name: 'pod', value: `${prefix}-${i % 4}` } : l)) }));
    const encodeRows = (ps: typeof profiles) =>
      ps.map((p, i) => {
        const e = encoders[i % 4]!;
        const { body, stackIds } = e.encode([p]);
        e.confirm(stackIds);
        return rowsRequestBody(body);
      });
    // The same warm-up as the other protocols had (its first 40 profiles): the agents' first stacks are
    // then stored and confirmed, as the pprof paths' were stored by the warm-up above.
    const warmProfiles = relabel('rows-warm').slice(0, Math.min(40, profiles.length));
    const warmBodies = encodeRows(warmProfiles);
    const rowsProfiles = relabel('rows');
    const rowsBodies = encodeRows(rowsProfiles);
    let resent = 0;
    // As the agent sends them (exporter-rows.ts): gzipped only when large.
    const postRows = (req: { path: string; headers: Record<string, string>; body: Uint8Array }) => fetch(`${url}${req.path}`, { method: 'POST', body: req.body as BodyInit, headers: req.headers });
    const sendRows = (bodies: ReturnType<typeof rowsRequestBody>[], ps: typeof profiles) => async (i: number) => {
      const res = await postRows(bodies[i]!);
      if (res.status !== 409) return res;
      await res.arrayBuffer();
      resent++;
      return postRows(rowsRequestBody(encoders[i % 4]!.encode([ps[i]!], 'all').body));
    };
    await run('warm-up (not measured)', sendRows(warmBodies, warmProfiles), warmBodies.length);
    const rowsBytes = rowsBodies.reduce((a, b) => a + b.body.length, 0);
    await run('Kiln rows push (agent)', sendRows(rowsBodies, rowsProfiles), payloads.length, only !== 'steady', rowsBytes);
    // The agents' steady state: the same profiles again as new series, every stack confirmed stored.
    // BENCH_STEADY_PASSES=k: k such passes, each with new series, to see the server's JIT settle (V8 still
    // compiles during the first: its optimizing compiler's threads and unoptimized code are in its CPU).
    const steadyPasses = Number(process.env.BENCH_STEADY_PASSES ?? 1);
    for (let k = 0; k < steadyPasses; k++) {
      const steadyProfiles = relabel(k === 0 ? 'rows-steady' : `rows-steady${k}`);
      const steadyBodies = encodeRows(steadyProfiles);
      await run(k === 0 ? 'Kiln rows push, steady' : `Kiln rows push, steady #${k + 1}`, sendRows(steadyBodies, steadyProfiles), payloads.length, true, steadyBodies.reduce((a, b) => a + b.body.length, 0));
    }
    // One agent per node pushes every process of the node in one request: here the four pods' profiles of
    // one interval together (a node running the service's four pods).
    const batched = relabel('rows-node');
    const batchBodies: ReturnType<typeof rowsRequestBody>[] = [];
    const node = new RowsEncoder();
    for (let i = 0; i < batched.length; i += 4) {
      const { body, stackIds } = node.encode(batched.slice(i, i + 4));
      node.confirm(stackIds);
      batchBodies.push(rowsRequestBody(body));
    }
    // Every stack is stored by the runs before (as in the steady run): rows only, after the first requests' symbols.
    await run('Kiln rows push, steady, 4 per request', (i) => postRows(batchBodies[i]!), batchBodies.length, true, batchBodies.reduce((a, b) => a + b.body.length, 0));
    console.log(`  rows push: ${(rowsBytes / 1024 / 1024).toFixed(2)} MiB in all (symbols until confirmed; gzipped past 16 KiB); ${resent} requests sent again with every symbol after a 409`);
  }
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const rss = Number(/^kiln_process_resident_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  const diskBytes = Number(/^kiln_store_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  console.log(`server RSS after ingest: ${(rss / 1024 / 1024).toFixed(0)} MiB; store on disk: ${(diskBytes / 1024 / 1024).toFixed(1)} MiB`);
  console.log(`rows per profile: ${(rows / payloads.length).toFixed(0)}; decode workers ${workers}; machine load avg: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
