/**
 * Where one agent-sized profile's ingest time goes, stage by stage, in one process (no HTTP): the
 * same gzipped pprof payloads bench/server-ingest.ts sends, timed through gunzip (and the server's
 * inflate with its limits prescan), protobuf decode, Kiln's pprof conversion (with a request's
 * decode-time limits, as the server runs it), validation, the write path's own steps (content ids,
 * sample rows, profile id) and the DuckDB write (concurrent callers, as the server has).
 *
 *   npx tsx bench/ingest-stages.ts [profiles=200] [writers=8]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { decodePprof, encodePprofGzip } from '../src/formats/pprof.js';
import { readPprof, scanPprof } from '../src/formats/pprof-wire.js';
import { decodePprofForStore } from '../src/server/pprof-ingest.js';
import { DEFAULT_TENANT_LIMITS, decodeBudget, inflatePprof } from '../src/server/limits.js';
import { StoredStacks } from '../src/store/stored-stacks.js';
import type { Profile } from '../src/model/index.js';
import { seriesId } from '../src/model/index.js';
import { validateProfile } from '../src/model/validate.js';
import { ContentIds } from '../src/store/content-ids.js';
import { openStore } from '../src/store/index.js';
import { profileContentId, profileSamples } from '../src/store/profile-rows.js';
import { INTERVAL_MS, ServiceModel, profileTimes } from './store-data.js';

const n = Number(process.argv[2] ?? 200);
const writers = Number(process.argv[3] ?? 8);
const model = new ServiceModel();
const times = profileTimes((Math.ceil(n / 4) * INTERVAL_MS) / 3_600_000, Date.UTC(2026, 0, 20, 6));
const payloads = times
  .flatMap((t) => [0, 1, 2, 3].map((pod) => model.profile(t, { service_name: 'checkout', pod: `checkout-${pod}` })))
  .slice(0, n)
  .map((p) => encodePprofGzip(p));
const raw = payloads.map((p) => gunzipSync(p));

/** Times `fn` over every payload; keeps the results only when asked (they would weigh on later GCs). */
function stage<T>(label: string, fn: (i: number) => T, keep = false): T[] {
  for (let i = 0; i < Math.min(20, n); i++) fn(i); // warm up the JIT
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = fn(i);
    if (keep) out.push(r);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(`${label.padEnd(34)} ${(ms / n).toFixed(3).padStart(7)} ms/profile wall, ${((cpu.user + cpu.system) / 1000 / n).toFixed(3).padStart(7)} ms CPU`);
  return out;
}

/** `stage` for a step that returns a promise (awaited one at a time, as a decode task runs them). */
async function asyncStage(label: string, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(`${label.padEnd(34)} ${(ms / n).toFixed(3).padStart(7)} ms/profile wall, ${((cpu.user + cpu.system) / 1000 / n).toFixed(3).padStart(7)} ms CPU`);
}

console.log(`${n} profiles, ${(raw.reduce((a, r) => a + r.length, 0) / n / 1024).toFixed(0)} KiB raw / ${(payloads.reduce((a, r) => a + r.length, 0) / n / 1024).toFixed(0)} KiB gzipped each`);
stage('gunzip', (i) => gunzipSync(payloads[i]!));
await asyncStage('inflatePprof (gunzip + prescan)', (i) => inflatePprof(payloads[i]!, DEFAULT_TENANT_LIMITS));
stage('pprof-format decode (raw)', (i) => PprofProfile.decode(raw[i]!));
stage('readPprof (raw wire → arrays)', (i) => readPprof(raw[i]!));
stage('scanPprof (raw wire → ranges, columns)', (i) => scanPprof(raw[i]!));
stage('decodePprofForStore, nothing stored', (i) => decodePprofForStore(payloads[i]!, { labels: [{ name: 'pod', value: `p${i % 4}` }, { name: 'service_name', value: 'checkout' }], budget: decodeBudget(DEFAULT_TENANT_LIMITS) }));
const everyStack = new StoredStacks();
for (const p of payloads.slice(0, 40)) {
  const ids = new ContentIds().forWrite(decodePprofForStore(p)[0]!.dict);
  for (let s = 0; s < ids.stacks.length; s++) everyStack.add(ids.stackWords[2 * s]!, ids.stackWords[2 * s + 1]!);
}
stage('decodePprofForStore, stacks stored', (i) => decodePprofForStore(payloads[i % 40]!, { labels: [{ name: 'pod', value: `p${i % 4}` }, { name: 'service_name', value: 'checkout' }], budget: decodeBudget(DEFAULT_TENANT_LIMITS) }, everyStack));
const decoded = stage('decodePprof (gzipped → Profile)', (i) => decodePprof(payloads[i]!, { labels: [{ name: 'pod', value: `p${i % 4}` }, { name: 'service_name', value: 'checkout' }] }), true);
stage('validateProfile', (i) => decoded[i]!.forEach((p) => validateProfile(p)));
// The write path's steps before the engine, as WritePath runs them (one ContentIds across pushes).
const contentIds = new ContentIds();
const ids = stage('ContentIds.forWrite (memoized ids)', (i) => contentIds.forWrite(decoded[i]![0]!.dict), true);
const samples = stage('profileSamples (rows by stack id)', (i) => profileSamples(decoded[i]![0]!, ids[i]!.stackWords), true);
stage('seriesId + profileContentId', (i) => {
  const p = decoded[i]![0]!;
  return profileContentId(seriesId('anonymous', p.type, p.labels), p, samples[i]!);
});
ids.length = 0;
samples.length = 0;
const rows = decoded.reduce((a, ps) => a + ps.reduce((b, p) => b + p.values.length, 0), 0);

const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-stages-'));
const store = await openStore(dir, { threads: 1 });
try {
  for (const pass of ['first pass (new symbols)', 'second pass (known symbols)']) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < decoded.length) {
          const ps: Profile[] = decoded[next++]!;
          // New series on the second pass, so its rows are stored, not skipped as replays.
          await store.write(pass.startsWith('first') ? 'anonymous' : 'second', ps);
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const cpuS = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6;
    console.log(
      `${`store.write, ${writers} writers, ${pass}`.padEnd(34)} ${((s * 1000) / n).toFixed(3).padStart(7)} ms/profile wall, ` +
        `${((cpuS * 1000) / n).toFixed(3).padStart(7)} ms CPU (all threads); ${Math.round(rows / cpuS).toLocaleString('en')} rows per CPU-second`,
    );
  }
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(`machine load avg: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
