/**
 * What the symbolizer allocates per interval for processes first seen after they exited — on the issue's load
 * (5 short-lived processes a second) the largest share of a steady interval's garbage outside the V8 reader
 * (stop 32: their frames went through framesAfterExit into the kept dictionary's location()). Load-independent:
 * bytes allocated on V8's heap per interval, no GC in the measured intervals (checked).
 * Each interval: 50 pids that do not exist (above pid_max), 4 stacks each of 12 native frames (addresses from a
 * pool of 400, as libc's and python3's recur across processes) and 3 V8 frames (the reader names none: gone),
 * into one kept dictionary (the agent's CompactDictionaryBuilder) after warm-up intervals.
 * Run (the young generation large enough that no GC runs in the measured intervals):
 *   node --min-semi-space-size=128 --max-semi-space-size=128 --import tsx bench/symbolizer-after-exit.ts [root] [intervals]
 * `root`: the checkout whose src/ is measured (default this one), e.g. an export of an older commit.
 * KILN_BENCH_SAMPLED=1: the samples as the sampler hands them over (SampledStacks over one interval's stack bytes),
 * so that decoding their addresses (the sampler's part of a stack the frame memo does not answer) is measured too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { RawSample } from '../src/agent/types.js';

const root = path.resolve(process.argv[2] ?? '.');
const INTERVALS = Number(process.argv[3] ?? 10);
const PIDS = 50;
const STACKS = 4;
const { CompactDictionaryBuilder } = (await import(pathToFileURL(path.join(root, 'src/agent/exporter-dictionary.ts')).href)) as typeof import('../src/agent/exporter-dictionary.js');
const { SampledStacks, StackArena } = (await import(pathToFileURL(path.join(root, 'src/agent/sampler.ts')).href)) as typeof import('../src/agent/sampler.js');
const { ProcSymbolizer } = (await import(pathToFileURL(path.join(root, 'src/agent/symbolize/symbolizer.ts')).href)) as typeof import('../src/agent/symbolize/symbolizer.js');

// Deterministic picks: a Weyl sequence of the golden ratio (the same in every run and tree).
let weyl = 0;
const rand = (): number => (weyl = (weyl + 0x9e37_79b9) >>> 0) / 2 ** 32;
const pool = Array.from({ length: 400 }, () => BigInt(0x7f00_0000_0000 + Math.floor(rand() * 2 ** 30)));
const v8Word = (sfi: number) => (1n << 63n) | BigInt(sfi);
const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
let nextPid = pidMax + 1;

const sym = new ProcSymbolizer({ v8: { frame: () => undefined } });
const b = new CompactDictionaryBuilder();
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
/** The interval's samples are made before it is measured: the sampler's own allocation is not the symbolizer's. */
const samplesOf = () =>
  Array.from({ length: PIDS }, () => {
    const pid = nextPid++;
    return Array.from({ length: STACKS }, () => {
      const userAddrs = Array.from({ length: 15 }, (_, d) => (d >= 4 && d < 7 ? v8Word(0x2a_0000_0001 + Math.floor(rand() * 300) * 0x40) : pool[Math.floor(rand() * pool.length)]!));
      return { pid, kind: 'cpu' as const, comm: 'sh', userAddrs, kernelAddrs: [] as bigint[], userStack: BigInt(pid) * 0x9e37_79b9n, count: 1 };
    });
  });
/** The same samples over one copy of their stack bytes, each stack decoded when first asked for (sampler.ts). */
const sampled = (pids: RawSample[][]): RawSample[][] => {
  const arena = new StackArena();
  const words = new DataView(new ArrayBuffer(16 * 8));
  const at = pids.map((list) =>
    list.map((s) => {
      words.setBigUint64(0, BigInt(s.userAddrs.length), true);
      s.userAddrs.forEach((a, i) => words.setBigUint64(8 + i * 8, a, true));
      return arena.add(words, 0, 16);
    }),
  );
  const stacks = arena.take();
  return pids.map((list, p) => list.map((s, i) => new SampledStacks({ ...s, userStack: s.userStack ?? 0n, kernelStack: 0n }, stacks, at[p]![i]!, -1)));
};
const SAMPLED = process.env.KILN_BENCH_SAMPLED === '1';
const interval = (samples: RawSample[][]) => {
  for (const list of samples) {
    sym.observe(list[0]!.pid);
    for (const s of list) sym.stack(s, b);
  }
};
for (let i = 0; i < 5; i++) interval(SAMPLED ? sampled(samplesOf()) : samplesOf());
const planned = Array.from({ length: INTERVALS }, () => (SAMPLED ? sampled(samplesOf()) : samplesOf()));
await new Promise((r) => setTimeout(r, 50));
const gcs0 = gcs;
const used0 = process.memoryUsage().heapUsed;
const t0 = process.cpuUsage();
for (const samples of planned) interval(samples);
const cpuUs = process.cpuUsage(t0);
const used1 = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 50));
console.log(
  `${root}: ${PIDS} exited processes${SAMPLED ? ' (samples as the sampler makes them)' : ''} × ${STACKS} stacks an interval, ${INTERVALS} intervals measured: ${((used1 - used0) / INTERVALS).toFixed(0)} B allocated per interval` +
    `${gcs > gcs0 ? ` (INVALID: ${gcs - gcs0} GCs in the measured intervals)` : ''}; dictionary ${b.dict.locations.length} locations / ${b.dict.stacks.length} stacks; ` +
    `CPU ${((cpuUs.user + cpuUs.system) / INTERVALS / 1000).toFixed(2)} ms per interval`,
);
