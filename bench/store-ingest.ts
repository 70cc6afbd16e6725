/**
 * Ingest benchmark for the embedded store: writes `--hours` of `--services` services (each 19 Hz × 16
 * CPUs, a profile every 10 s; the first is `checkout`, the one bench/store-query.ts reads) the way the
 * server would, one write call per `--batch` profiles, and reports rows/s and
 * profiles/s (time inside Store.write only; generating profiles is not counted), bytes on disk per raw
 * sample after a checkpoint, and RSS. DuckDB gets one thread: the target is "on one core".
 *
 *   npx tsx bench/store-ingest.ts --hours 24 --batch 1 --concurrency 16 --dir .bench/store-24h
 *
 * The data directory is left in place for bench/store-query.ts.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Profile } from '../src/model/index.js';
import { DuckDBEngine, EngineStore } from '../src/store/index.js';
import { BENCH_END_MS, DEFAULT_SHAPE, RAW_SAMPLES_PER_PROFILE, ServiceModel, profileTimes } from './store-data.js';

const { values: args } = parseArgs({
  options: {
    hours: { type: 'string', default: '24' },
    batch: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '1' },
    dir: { type: 'string', default: '.bench/store-24h' },
    threads: { type: 'string', default: '1' },
    services: { type: 'string', default: '1' },
  },
});
const hours = Number(args.hours);
const batch = Number(args.batch);
const concurrency = Number(args.concurrency);

rmSync(args.dir, { recursive: true, force: true });
const engine = await DuckDBEngine.open(args.dir, { threads: Number(args.threads) });
const store = await EngineStore.open(engine);
const services = Array.from({ length: Number(args.services) }, (_, i) => ({
  model: new ServiceModel({ ...DEFAULT_SHAPE, seed: DEFAULT_SHAPE.seed + i }),
  labels: { service_name: i === 0 ? 'checkout' : `service-${i}`, namespace: 'shop' },
}));
// Every service pushes once per interval, interleaved in time as they would arrive at a server.
const times = profileTimes(hours, BENCH_END_MS).flatMap((t) => services.map((svc) => ({ t, svc })));

let writeMs = 0;
let rows = 0;
let profiles = 0;
let peakRss = 0;
const wallStart = performance.now();
// `concurrency` write calls in flight at once, as when many agents push to one server: the store
// then commits them together. Profiles are generated ahead in chunks, outside the timed part.
// Timed: wall clock and this process's CPU time (all threads, DuckDB's included) around the writes;
// the CPU figure is what "one core" means when other jobs share the machine.
let cpuUs = 0;
const CHUNK = 8 * batch * concurrency;
for (let c = 0; c < times.length; c += CHUNK) {
  const calls: Profile[][] = [];
  for (let j = c; j < Math.min(times.length, c + CHUNK); j += batch) {
    calls.push(times.slice(j, Math.min(j + batch, c + CHUNK)).map(({ t, svc }) => svc.model.profile(t, svc.labels)));
  }
  for (let i = 0; i < calls.length; i += concurrency) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const rs = await Promise.all(calls.slice(i, i + concurrency).map((ps) => store.write('anonymous', ps)));
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
    writeMs += performance.now() - t0;
    for (const r of rs) {
      rows += r.rows;
      profiles += r.profiles;
    }
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const wallMs = performance.now() - wallStart;
const t0 = performance.now();
await engine.checkpoint();
const checkpointMs = performance.now() - t0;
const stats = await store.stats();
peakRss = Math.max(peakRss, process.memoryUsage().rss);
await store.close();

const rawSamples = profiles * RAW_SAMPLES_PER_PROFILE;
const out = {
  hours,
  services: services.length,
  batch,
  concurrency,
  profiles,
  rows,
  rowsPerProfile: Math.round(rows / profiles),
  rowsPerSecond: Math.round(rows / (writeMs / 1000)),
  profilesPerSecond: Math.round(profiles / (writeMs / 1000)),
  rowsPerCpuSecond: Math.round(rows / (cpuUs / 1e6)),
  profilesPerCpuSecond: Math.round(profiles / (cpuUs / 1e6)),
  writeSeconds: +(writeMs / 1000).toFixed(2),
  writeCpuSeconds: +(cpuUs / 1e6).toFixed(2),
  loadAverage: loadavg()[0]!.toFixed(1),
  wallSeconds: +(wallMs / 1000).toFixed(2),
  checkpointSeconds: +(checkpointMs / 1000).toFixed(2),
  bytesOnDisk: stats.bytesOnDisk,
  bytesPerRawSample: +(stats.bytesOnDisk / rawSamples).toFixed(3),
  bytesPerRow: +(stats.bytesOnDisk / rows).toFixed(2),
  peakRssMiB: Math.round(peakRss / 2 ** 20),
};
console.log(JSON.stringify(out, null, 2));
