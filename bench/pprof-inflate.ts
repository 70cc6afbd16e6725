/**
 * The floor under pprof ingest: what inflating an agent-sized gzipped pprof costs alone, before any
 * byte of it is scanned — the same profiles bench/server-ingest.ts pushes (bench/store-data.ts), each
 * inflated by the decode thread's own inflater (GunzipInto: Node's zlib into one kept buffer). CPU
 * time of this process, median of `runs` passes over all of them; beside it, as the anchor in the
 * same run, a fresh `gunzipSync` per profile (a new buffer and zlib stream each). Set beside the
 * issue-7 goal of 300 000 rows per server-CPU-second (3.3 µs a row), it says how much of a row's
 * budget is gone before decoding starts.
 *
 *   npx tsx bench/pprof-inflate.ts [profiles=400] [runs=5]
 */
import { loadavg } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { GunzipInto } from '../src/formats/compression.js';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { medianOf } from '../src/insight/anomalies.js';
import { BENCH_END_MS, ServiceModel, profileTimes } from './store-data.js';

const count = Number(process.argv[2] ?? 400);
const runs = Number(process.argv[3] ?? 5);
if (!(Number.isInteger(count) && count > 0 && Number.isInteger(runs) && runs > 0)) {
  console.error('usage: npx tsx bench/pprof-inflate.ts [profiles=400] [runs=5]');
  process.exit(2);
}

const model = new ServiceModel();
const profiles = profileTimes(24, BENCH_END_MS).slice(0, count).map((t) => model.profile(t));
const rows = profiles.reduce((n, p) => n + p.values.length, 0);
const payloads = profiles.map((p) => encodePprofGzip(p));
const gz = payloads.reduce((n, p) => n + p.length, 0);
const inflater = new GunzipInto();
const raw = payloads.reduce((n, p) => n + inflater.inflate(p).length, 0);

/** CPU ms a profile of one pass of `inflate` over every payload. */
function pass(inflate: (p: Uint8Array) => unknown): number {
  const t0 = process.cpuUsage();
  for (const p of payloads) inflate(p);
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / 1000 / payloads.length;
}
const perProfileMs: number[] = [];
const anchorMs: number[] = [];
for (let r = 0; r < runs; r++) {
  perProfileMs.push(pass((p) => inflater.inflate(p)));
  anchorMs.push(pass((p) => gunzipSync(p)));
}
const median = medianOf(perProfileMs);
const usPerRow = (median * 1000 * payloads.length) / rows;
console.log(
  JSON.stringify(
    {
      profiles: payloads.length,
      rowsPerProfile: Math.round(rows / payloads.length),
      gzippedKiBPerProfile: +(gz / payloads.length / 1024).toFixed(1),
      rawKiBPerProfile: +(raw / payloads.length / 1024).toFixed(1),
      inflateMsPerProfile: { median: +median.toFixed(3), runs: perProfileMs.map((v) => +v.toFixed(3)) },
      anchorGunzipSyncMsPerProfile: { median: +medianOf(anchorMs).toFixed(3), runs: anchorMs.map((v) => +v.toFixed(3)) },
      inflateMicrosecondsPerRow: +usPerRow.toFixed(2),
      // 300 000 rows per CPU-second leaves 3.33 µs of server CPU a row, for everything.
      shareOfTheGoalsRowBudget: +(usPerRow / (1e6 / 300_000)).toFixed(2),
      loadAverage: loadavg()[0]!.toFixed(1),
    },
    null,
    2,
  ),
);
