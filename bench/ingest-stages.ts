/**
 * Where one agent-sized profile's ingest time goes, stage by stage, in one process (no HTTP): the
 * same gzipped pprof payloads bench/server-ingest.ts sends, timed through gunzip, protobuf decode,
 * Kiln's pprof conversion, validation and the DuckDB write (concurrent callers, as the server has).
 *
 *   npx tsx bench/ingest-stages.ts [profiles=200] [writers=8]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { decodePprof, encodePprofGzip } from '../src/formats/pprof.js';
import { readPprof } from '../src/formats/pprof-wire.js';
import type { Profile } from '../src/model/index.js';
import { validateProfile } from '../src/model/validate.js';
import { openStore } from '../src/store/index.js';
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
  console.log(`${label.padEnd(34)} ${(ms / n).toFixed(2).padStart(6)} ms/profile wall, ${((cpu.user + cpu.system) / 1000 / n).toFixed(2).padStart(6)} ms CPU`);
  return out;
}

console.log(`${n} profiles, ${(raw.reduce((a, r) => a + r.length, 0) / n / 1024).toFixed(0)} KiB raw / ${(payloads.reduce((a, r) => a + r.length, 0) / n / 1024).toFixed(0)} KiB gzipped each`);
stage('gunzip', (i) => gunzipSync(payloads[i]!));
stage('pprof-format decode (raw)', (i) => PprofProfile.decode(raw[i]!));
stage('readPprof (raw wire → arrays)', (i) => readPprof(raw[i]!));
const decoded = stage('decodePprof (gzipped → Profile)', (i) => decodePprof(payloads[i]!, { labels: [{ name: 'pod', value: `p${i % 4}` }, { name: 'service_name', value: 'checkout' }] }), true);
stage('validateProfile', (i) => decoded[i]!.forEach((p) => validateProfile(p)));
const rows = decoded.reduce((a, ps) => a + ps.reduce((b, p) => b + p.values.length, 0), 0);

const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-stages-'));
const store = await openStore(dir, { threads: 1 });
try {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < decoded.length) {
        const ps: Profile[] = decoded[next++]!;
        await store.write('anonymous', ps);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${`store.write (${writers} writers)`.padEnd(34)} ${((s * 1000) / n).toFixed(2).padStart(6)} ms/profile wall, ` +
      `${((cpu.user + cpu.system) / 1000 / n).toFixed(2).padStart(6)} ms CPU (all threads); ${Math.round(rows / s).toLocaleString('en')} rows/s`,
  );
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
