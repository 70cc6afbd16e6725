/**
 * What the agent allocates to hash the content ids of an interval's new dictionary entries (model/ids.ts'
 * extendDictionaryIds, as exporter-rows.ts calls it on the kept dictionary), load-independent: bytes on V8's heap
 * per interval, no GC in the measured intervals (checked).
 * Each interval adds 200 locations (a third unnamed: binary and address; the rest one or two lines) and 60 stacks
 * of 15 locations to one growing dictionary, then extends its ids; the entries are made before the measure.
 * Run (the young generation large enough that no GC runs in the measured intervals):
 *   node --min-semi-space-size=128 --max-semi-space-size=128 --import tsx bench/dictionary-ids.ts [root] [intervals]
 * `root`: the checkout whose src/ is measured (default this one), e.g. an export of an older commit.
 */
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { SymbolDictionary } from '../src/model/symbols.js';

const root = path.resolve(process.argv[2] ?? '.');
const INTERVALS = Number(process.argv[3] ?? 10);
const LOCATIONS = 200;
const STACKS = 60;
const { extendDictionaryIds } = (await import(pathToFileURL(path.join(root, 'src/model/ids.ts')).href)) as typeof import('../src/model/ids.js');

// Deterministic picks: a Weyl sequence of the golden ratio (the same in every run and tree).
let weyl = 0;
const rand = (): number => (weyl = (weyl + 0x9e37_79b9) >>> 0) / 2 ** 32;
const dict: SymbolDictionary = { mappings: [], functions: [], locations: [], stacks: [] };
for (let i = 0; i < 40; i++) dict.mappings.push({ binary: `/usr/lib/x86_64-linux-gnu/lib${i}.so`, buildId: (0x1234_5678 * (i + 1)).toString(16).padStart(40, '0') });
let nextAddress = 0x7f00_0000_0000;
/** One interval's new entries: functions, locations naming them (or not), stacks over all locations so far. */
const grow = () => {
  for (let i = 0; i < LOCATIONS; i++) {
    const mapping = Math.floor(rand() * dict.mappings.length);
    const address = BigInt((nextAddress += 0x40 + Math.floor(rand() * 0x400)));
    if (i % 3 === 0) {
      dict.locations.push({ mapping, address, lines: [] });
      continue;
    }
    const lines = Array.from({ length: 1 + (i % 5 === 1 ? 1 : 0) }, () => {
      dict.functions.push({ name: `fn_${dict.functions.length}`, systemName: '', file: `/src/m${dict.functions.length % 50}.c` });
      return { function: dict.functions.length - 1, line: Math.floor(rand() * 2000) };
    });
    dict.locations.push({ mapping, address: 0n, lines });
  }
  for (let i = 0; i < STACKS; i++) dict.stacks.push(Array.from({ length: 15 }, () => Math.floor(rand() * dict.locations.length)));
};
const ids = { mappings: [], functions: [], locations: [], stacks: [] };
for (let i = 0; i < 5; i++) {
  grow();
  extendDictionaryIds(dict, ids);
}
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const dicts = Array.from({ length: INTERVALS }, () => {
  grow();
  return { mappings: dict.mappings.slice(), functions: dict.functions.slice(), locations: dict.locations.slice(), stacks: dict.stacks.slice() };
});
await new Promise((r) => setTimeout(r, 50));
const gcs0 = gcs;
const used0 = process.memoryUsage().heapUsed;
const t0 = process.cpuUsage();
for (const d of dicts) extendDictionaryIds(d, ids);
const cpuUs = process.cpuUsage(t0);
const used1 = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 50));
console.log(
  `${root}: ${LOCATIONS} new locations and ${STACKS} new stacks an interval, ${INTERVALS} intervals measured: ${((used1 - used0) / INTERVALS).toFixed(0)} B allocated per interval` +
    `${gcs > gcs0 ? ` (INVALID: ${gcs - gcs0} GCs in the measured intervals)` : ''}; ids ${ids.locations.length} locations / ${ids.stacks.length} stacks, checksum ${ids.stacks.reduce((a, b) => a ^ b, 0n).toString(16)}; ` +
    `CPU ${((cpuUs.user + cpuUs.system) / INTERVALS / 1000).toFixed(2)} ms per interval`,
);
