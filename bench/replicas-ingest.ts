/**
 * Ingest through N Kiln servers, side by side in one run: DuckDB (one server: the anchor), ClickHouse
 * with one server, ClickHouse with two servers sharing it. Each server is a child process (as
 * `kiln server` would be), the load generator round-robins gzipped pprof pushes (`POST /ingest`)
 * over them at `--concurrency`, and the figures are wall-clock rows/s, each process's CPU, the
 * ClickHouse server's CPU (from /proc), bytes on disk per raw sample and server RSS.
 *
 *   npx tsx bench/replicas-ingest.ts --profiles 960 --concurrency 16
 *
 * On a 2-core machine the servers, ClickHouse and the load generator share both cores, so two
 * replicas cannot double the ingest here; the CPU per row says what each replica costs.
 *
 *   sudo npx tsx bench/replicas-ingest.ts --profiles 480 --concurrency 16 --replica-cpu 0.4 [--warm 480]
 *
 * `--replica-cpu CORES` gives every server its own CPU cgroup capped at CORES (root; cgroup v1 `cpu`
 * or v2 `cpu.max`), as if each replica ran on a machine of its own that size: the replicas are then
 * the bottleneck, not the shared cores, and the ratio of 2 replicas to 1 measures how the stateless
 * tier scales out. Each server's throttled periods are printed, which shows the cap was what bound it;
 * ClickHouse's and the load generator's CPU stay outside the caps.
 *
 * `--concurrency-per-server N` keeps N pushes in flight at every server (N × servers in all), as a
 * saturated fleet would: many agents, each replica at its per-tenant limit of pending writes (16).
 * `--concurrency` (default 16) is the total, shared by the servers.
 *
 * `--warm N` (default 24): profiles each server ingests before the measured pass. A replica builds
 * symbol rows for every stack it has not stored itself yet, so in a short run two replicas each pay
 * that for the same stacks; `--warm <profiles>` measures the steady state where each has seen them.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { capCpu, prioritize } from './cpu-cap.js';
import type { ClickHouseServer } from '../test/support/clickhouse.js';
import { startClickHouse } from '../test/support/clickhouse.js';
import { INTERVAL_MS, RAW_SAMPLES_PER_PROFILE, ServiceModel, profileTimes } from './store-data.js';

if (process.argv[2] === '--serve') {
  const { openStore } = await import('../src/store/index.js');
  const { startServer } = await import('../src/server/server.js');
  const store = await openStore(process.argv[3]!, { threads: 1 });
  const server = await startServer({ store, host: '127.0.0.1', port: 0 });
  process.send!({ url: server.url });
  process.on('message', async (m) => {
    if (m === 'stats') {
      const u = process.cpuUsage();
      const s = await store.stats();
      process.send!({ cpuMs: (u.user + u.system) / 1000, rss: process.memoryUsage().rss, bytesOnDisk: s.bytesOnDisk, rows: s.rows });
      return;
    }
    await server.close();
    await store.close();
    process.exit(0);
  });
} else {
  const { values: args } = parseArgs({
    options: { profiles: { type: 'string', default: '960' }, concurrency: { type: 'string', default: '16' }, 'replica-cpu': { type: 'string' }, 'concurrency-per-server': { type: 'string' }, warm: { type: 'string', default: '24' } },
  });
  const replicaCpu = args['replica-cpu'] === undefined ? undefined : Number(args['replica-cpu']);
  const n = Number(args.profiles);
  const perServer = args['concurrency-per-server'] === undefined ? undefined : Number(args['concurrency-per-server']);
  const concurrencyFor = (servers: number) => (perServer === undefined ? Number(args.concurrency) : perServer * servers);
  const warmProfiles = Number(args.warm);
  const model = new ServiceModel();
  const pods = 8;
  const times = profileTimes((Math.ceil(n / pods) * INTERVAL_MS) / 3_600_000, Date.UTC(2026, 0, 20, 6));
  const profiles = times.flatMap((t) => Array.from({ length: pods }, (_, pod) => model.profile(t, { service_name: 'checkout', pod: `checkout-${pod}` }))).slice(0, n);
  const rows = profiles.reduce((a, p) => a + p.values.length, 0);
  const payloads = profiles.map((p) => encodePprofGzip(p));

  interface Stats {
    cpuMs: number;
    rss: number;
    bytesOnDisk: number;
    rows: number;
  }
  /** The store's bytes over the raw samples its rows stand for: the share of the sent rows it holds × the sent profiles' raw samples. */
  const bytesPerRawSample = (s: Stats) => +(s.bytesOnDisk / (s.rows > 0 ? (s.rows / rows) * payloads.length * RAW_SAMPLES_PER_PROFILE : 1)).toFixed(3);
  const statsOf = (child: ChildProcess) =>
    new Promise<Stats>((resolve) => {
      child.once('message', (m) => resolve(m as Stats));
      child.send('stats');
    });
  const serve = async (store: string, index: number) => {
    const child = fork(new URL(import.meta.url).pathname, ['--serve', store], { execArgv: ['--import', 'tsx'] });
    // Capped before it starts its threads (DuckDB's, the decode pool's): threads stay in their creator's cgroup.
    const cap = replicaCpu === undefined ? undefined : capCpu(`kiln-bench-replica-${index}`, child.pid!, replicaCpu);
    const { url } = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));
    return { child, url, cap };
  };
  const stop = async (child: ChildProcess) => {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  };

  async function run(label: string, stores: string[], clickhouse?: ClickHouseServer) {
    const clickhouseDir = clickhouse?.dir;
    const servers = await Promise.all(stores.map((store, i) => serve(store, i)));
    // Warm-up, not measured: each server compiles its TypeScript and JITs the ingest path first.
    // `--warm N` sends it the first N payloads (under another series): with N = --profiles every
    // replica has seen every stack, as in a fleet's steady state, and none builds symbols twice.
    const warm = payloads.slice(0, Math.min(warmProfiles, payloads.length));
    // Each server under series of its own: a profile another replica already stored is a replay, and
    // a replay teaches the server none of its stacks. The servers warm up side by side.
    await Promise.all(
      servers.map(async ({ url }, server) => {
        // 8 at a time: under the server's max_pending_writes_per_tenant.
        for (let at = 0; at < warm.length; at += 8) {
          await Promise.all(warm.slice(at, at + 8).map(async (body, i) => {
            const res = await fetch(`${url}/ingest?name=warmup.cpu{pod=w-${at + i},server=s${server}}&format=pprof`, { method: 'POST', body: body as BodyInit });
            if (!res.ok) throw new Error(`warm-up: ${res.status} ${await res.text()}`);
            await res.arrayBuffer();
          }));
        }
      }),
    );
    const throttled0 = servers.map((s) => s.cap?.throttledPeriods() ?? 0);
    const before = await Promise.all(servers.map((s) => statsOf(s.child)));
    const chCpu0 = clickhouseDir ? processCpuMs(clickhouseDir) : 0;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrencyFor(servers.length) }, async (_, w) => {
        while (next < payloads.length) {
          const i = next++;
          // Per server: each worker keeps to one server, so none holds more than N in flight.
          const { url } = servers[(perServer === undefined ? i + w : w) % servers.length]!;
          const res = await fetch(`${url}/ingest?name=checkout.cpu{run=${label.replace(/\W/g, '_')}}&format=pprof`, { method: 'POST', body: payloads[i] as BodyInit });
          if (!res.ok) throw new Error(`${label}: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const after = await Promise.all(servers.map((s) => statsOf(s.child)));
    const chCpuS = clickhouseDir ? (processCpuMs(clickhouseDir) - chCpu0) / 1000 : 0;
    const throttled = servers.map((s, i) => (s.cap?.throttledPeriods() ?? 0) - throttled0[i]!);
    const kilnCpuS = after.reduce((a, s, i) => a + (s.cpuMs - before[i]!.cpuMs) / 1000, 0);
    const result = {
      label,
      servers: servers.length,
      concurrency: concurrencyFor(servers.length),
      profiles: payloads.length,
      rows,
      wallSeconds: +wallS.toFixed(2),
      rowsPerSecond: Math.round(rows / wallS),
      kilnCpuSeconds: +kilnCpuS.toFixed(2),
      rowsPerKilnCpuSecond: Math.round(rows / kilnCpuS),
      clickhouseCpuSeconds: +chCpuS.toFixed(2),
      maxServerRssMiB: Math.round(Math.max(...after.map((s) => s.rss)) / 2 ** 20),
      bytesOnDisk: after[0]!.bytesOnDisk,
      bytesPerRawSample: bytesPerRawSample(after[0]!),
      loadAverage: os.loadavg()[0]!.toFixed(1),
      ...(replicaCpu === undefined ? {} : { replicaCpuCap: replicaCpu, throttledPeriodsPerServer: throttled, kilnCpuPerServerSeconds: +(kilnCpuS / servers.length).toFixed(2) }),
    };
    // Bytes right after the last insert count parts ClickHouse has not merged yet, so they move from run
    // to run; a table at rest is merged. Read again after every table's parts are merged into one.
    const merged = clickhouse ? { bytesPerRawSampleMerged: await bytesPerRawSampleMerged(clickhouse, () => statsOf(servers[0]!.child)) } : {};
    await Promise.all(servers.map((s) => stop(s.child)));
    servers.forEach((s) => s.cap?.remove());
    console.log(JSON.stringify({ ...result, ...merged }));
    return result;
  }

  // With caps, the load generator and ClickHouse get a high CPU weight (no quota), as if on machines of
  // their own: on a busy machine the capped servers then wait on their caps, not on them.
  const loadGenerator = replicaCpu === undefined ? undefined : prioritize('kiln-bench-loadgen', process.pid);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-replicas-'));
  await run('duckdb, 1 server', [dir]);
  await rm(dir, { recursive: true, force: true });
  for (const replicas of [1, 2]) {
    // A fresh ClickHouse per run, so bytes on disk count this run's rows only.
    const ch = await startClickHouse();
    const chPid = replicaCpu === undefined ? undefined : processOf(ch.dir);
    const chGroup = chPid === undefined ? undefined : prioritize(`kiln-bench-clickhouse-${replicas}`, chPid);
    try {
      await run(`clickhouse, ${replicas} server(s)`, Array.from({ length: replicas }, () => ch.url), ch);
    } finally {
      await ch.destroy();
      chGroup?.remove();
    }
  }
  loadGenerator?.remove();

  /** Bytes on disk per raw sample once `OPTIMIZE … FINAL` has merged every MergeTree table of the store's database. */
  async function bytesPerRawSampleMerged(ch: ClickHouseServer, stats: () => Promise<Stats>): Promise<number> {
    const database = new URL(ch.url).pathname.slice(1);
    const tables = await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' AND engine LIKE '%MergeTree%'`);
    for (const { name } of tables) await ch.query(`OPTIMIZE TABLE \`${database}\`.\`${name}\` FINAL`);
    return bytesPerRawSample(await stats());
  }
}

/** The pid of the ClickHouse server whose command line names `dir`. */
function processOf(dir: string): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir) && cmd.includes('clickhouse')) return Number(pid);
    } catch {
      // the process went away between listing and reading
    }
  }
  throw new Error(`no ClickHouse process found for ${dir}`);
}

/** CPU time (user + system, ms) of the ClickHouse server whose command line names `dir`. */
function processCpuMs(dir: string): number {
  const tick = 100; // USER_HZ on Linux
  const fields = readFileSync(`/proc/${processOf(dir)}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
}
