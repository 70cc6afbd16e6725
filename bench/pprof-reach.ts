/**
 * How much of a pprof's function and location tables its samples reach: what resolving only the reached
 * entries (a lazy memo in pprof-ingest.ts) could leave out. Counts at the wire level (scanPprof), before
 * any de-duplication: a location is reached when some sample names its id, a function when a reached
 * location's line names its id.
 *
 *   npx tsx bench/pprof-reach.ts [pprof files…]
 *
 * Without files: bench/server-ingest.ts's 400 agent-sized pprofs (summed). With files (gzipped or not):
 * one line per file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { scanPprof } from '../src/formats/pprof-wire.js';
import { pprofPayloads } from './pprof-payloads.js';

interface Reach {
  readonly samples: number;
  readonly functions: number;
  readonly reachedFunctions: number;
  readonly locations: number;
  readonly reachedLocations: number;
}

function reach(bytes: Uint8Array): Reach {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const scan = scanPprof(raw);
  const s = scan.samples;
  const samples = s.locationStart.length - 1;
  const reachedIds = new Set<number>();
  for (let i = s.locationStart[0]!; i < s.locationStart[samples]!; i++) reachedIds.add(s.locationIds[i]!);
  const locs = scan.locations;
  const fnIds = new Set<number>();
  let reachedLocations = 0;
  for (let k = 0; k < locs.ids.length; k++) {
    if (!reachedIds.has(locs.ids[k]!)) continue;
    reachedLocations++;
    for (let j = locs.lineStart[k]!; j < locs.lineStart[k + 1]!; j++) fnIds.add(locs.lineFunctionIds[j]!);
  }
  // Some .NET agents write every function with id 0, function i being location i's (pprof-ingest.ts repairs them alike).
  const fns = scan.functions.ids;
  const brokenIds = fns.length > 0 && fns.length === locs.ids.length && fns.every((id) => id === 0);
  const reachedFunctions = (brokenIds ? locs.ids : fns).filter((id) => fnIds.has(id)).length;
  return { samples, functions: scan.functions.ids.length, reachedFunctions, locations: locs.ids.length, reachedLocations };
}

const line = (name: string, r: Reach): string =>
  `${name}: ${r.samples} samples; functions ${r.reachedFunctions} of ${r.functions} reached; locations ${r.reachedLocations} of ${r.locations} reached`;

const files = process.argv.slice(2);
if (files.length === 0) {
  const { payloads } = pprofPayloads(400);
  const sum: Record<keyof Reach, number> = { samples: 0, functions: 0, reachedFunctions: 0, locations: 0, reachedLocations: 0 };
  for (const p of payloads) {
    const r = reach(p);
    for (const k of Object.keys(sum) as (keyof Reach)[]) sum[k] += r[k];
  }
  console.log(line(`bench/server-ingest.ts's ${payloads.length} pprofs (summed)`, sum));
} else {
  for (const f of files) {
    try {
      console.log(line(path.basename(f), reach(readFileSync(f))));
    } catch (e) {
      console.log(`${path.basename(f)}: not read (${(e as Error).message})`);
    }
  }
}
