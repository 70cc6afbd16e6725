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
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { PushRequestSchema } from '../src/gen/push/v1/push_pb.js';
import { INTERVAL_MS, ServiceModel, profileTimes } from './store-data.js';

if (process.argv[2] === '--serve') {
  const { openStore } = await import('../src/store/index.js');
  const { startServer } = await import('../src/server/server.js');
  const store = await openStore(process.argv[3]!, { threads: 1 });
  const workers = process.argv[4] === 'default' ? undefined : Number(process.argv[4]);
  const server = await startServer({ store, host: '127.0.0.1', port: 0, decodeWorkers: workers });
  process.send!({ url: server.url });
  process.on('message', async (m) => {
    // 'cpu': the server process's CPU time so far (all threads: JS, DuckDB, zlib), for CPU per row.
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpuMs: (u.user + u.system) / 1000 });
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
  const { url } = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));

  const serverCpuMs = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve((m as { cpuMs: number }).cpuMs));
      child.send('cpu');
    });

  async function run(label: string, send: (i: number) => Promise<Response>, count = payloads.length): Promise<void> {
    let next = 0;
    const cpu0 = await serverCpuMs();
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
    const cpuS = ((await serverCpuMs()) - cpu0) / 1000;
    if (count < payloads.length) return; // the warm-up
    console.log(
      `${label.padEnd(28)} ${payloads.length} profiles, ${rows} rows, ${(bytes / 1024 / 1024).toFixed(1)} MiB gz in ${s.toFixed(2)} s: ` +
        `${Math.round(rows / s).toLocaleString('en')} rows/s, ${(payloads.length / s).toFixed(0)} profiles/s; ` +
        `server CPU ${cpuS.toFixed(2)} s = ${Math.round(rows / cpuS).toLocaleString('en')} rows per CPU-second (${((cpuS / rows) * 1e6).toFixed(1)} µs/row)`,
    );
  }

  // Not measured: JIT warm-up, and the decode threads' start (from the sources they compile TypeScript).
  await run('warm-up (not measured)', (i) => fetch(`${url}/ingest?name=warmup.cpu{pod=w-${i}}&format=pprof`, { method: 'POST', body: payloads[i] }), Math.min(40, payloads.length));
  // Distinct pod label per pass so the second pass is new data, not an idempotent replay.
  await run('POST /ingest (pprof.gz)', (i) =>
    fetch(`${url}/ingest?name=checkout.cpu{pod=ingest-${i % 4}}&format=pprof`, { method: 'POST', body: payloads[i], headers: { 'content-type': 'application/octet-stream' } }),
  );
  await run('push.v1 Push (Connect proto)', (i) =>
    fetch(`${url}/push.v1.PusherService/Push`, { method: 'POST', body: pushBodies[i], headers: { 'content-type': 'application/proto' } }),
  );
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const rss = Number(/^kiln_process_resident_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  const diskBytes = Number(/^kiln_store_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  console.log(`server RSS after ingest: ${(rss / 1024 / 1024).toFixed(0)} MiB; store on disk: ${(diskBytes / 1024 / 1024).toFixed(1)} MiB`);
  console.log(`rows per profile: ${(rows / payloads.length).toFixed(0)}; decode workers ${workers}; machine load avg: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
