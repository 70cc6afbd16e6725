/**
 * Decode throughput of the ingest codecs, in rows/s (a row = one (stack, value) pair of a decoded profile).
 * The pprof is shaped like what one agent pushes for one busy process every 10 s: a few thousand distinct
 * stacks, 20–40 frames deep, a few hundred functions over a few binaries, two sample types (samples + cpu).
 *
 *   npx tsx bench/formats-decode.ts [stacks=3000] [rounds=30]
 */
import { gzipSync } from 'node:zlib';
import { Function as PprofFunction, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { toFolded } from '../src/formats/folded.js';
import { decodeProfiles } from '../src/formats/registry.js';

const STACKS = Number(process.argv[2] ?? 3000);
const ROUNDS = Number(process.argv[3] ?? 30);

/** Deterministic pseudo-random numbers so every run measures the same profile. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function agentSizedPprof(stacks: number): Uint8Array {
  const rand = rng(42);
  const st = new StringTable();
  const mappings = ['/usr/bin/node', '/usr/lib/x86_64-linux-gnu/libc.so.6', '[kernel.kallsyms]'].map(
    (f, i) => new Mapping({ id: i + 1, filename: st.dedup(f), buildId: st.dedup(i === 2 ? '' : `${(i + 1) * 1234567}abcdef`), hasFunctions: true }),
  );
  const functions = Array.from({ length: 600 }, (_, i) => new PprofFunction({ id: i + 1, name: st.dedup(`fn_${i}`), systemName: st.dedup(`fn_${i}`), filename: st.dedup(`src/file_${i % 40}.c`) }));
  const locations = functions.map(
    (f, i) => new Location({ id: i + 1, mappingId: (i % 3) + 1, address: BigInt(0x400000 + i * 64), line: [{ functionId: f.id, line: (i * 7) % 500 }] }),
  );
  const sample: Sample[] = [];
  for (let s = 0; s < stacks; s++) {
    const depth = 20 + Math.floor(rand() * 20);
    const ids: number[] = [];
    for (let d = 0; d < depth; d++) ids.push(1 + Math.floor(rand() * locations.length));
    const n = 1 + Math.floor(rand() * 20);
    sample.push(new Sample({ locationId: ids, value: [n, n * 52_631_578] }));
  }
  const p = new Profile({
    sampleType: [new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }), new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })],
    periodType: new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
    period: 52_631_578,
    timeNanos: BigInt(Date.now()) * 1_000_000n,
    durationNanos: 10_000_000_000n,
    sample,
    mapping: mappings,
    location: locations,
    function: functions,
    stringTable: st,
  });
  return p.encode();
}

function measure(label: string, format: string, data: Uint8Array): void {
  let rows = 0;
  decodeProfiles(format, data); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) for (const p of decodeProfiles(format, data)) rows += p.values.length;
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  const perProfileMs = (s / ROUNDS) * 1000;
  console.log(`| ${label} | ${(data.length / 1024).toFixed(0)} KiB | ${(rows / ROUNDS).toFixed(0)} | ${Math.round(rows / s).toLocaleString('en-US')} | ${perProfileMs.toFixed(1)} |`);
}

const raw = agentSizedPprof(STACKS);
const gz = gzipSync(raw);
const folded = Buffer.from(toFolded(decodeProfiles('pprof', raw)[0]!));

console.log(`stacks=${STACKS} rounds=${ROUNDS} node ${process.version}`);
console.log('| payload | size | rows/payload | rows/s | ms/payload |');
console.log('|---|---|---|---|---|');
measure('pprof, raw', 'pprof', raw);
measure('pprof, gzipped', 'pprof', gz);
measure('folded text', 'folded', folded);
