/**
 * The symbolizer's steady-state work per interval, load-independent: bytes allocated on V8's heap and the
 * frames resolved from the stack memo against frame by frame, for one interval's samples replayed interval
 * after interval into one kept dictionary (as the agent does), after warm-up intervals.
 * Samples (fixed, deterministic): stacks of this node process — native frames in its mapped binaries, node's
 * JavaScript frames as the walker writes them (a SharedFunctionInfo under bit 63, named by a stand-in reader
 * that, like v8/reader.ts, hands back the same object while a function stands), and kernel frames from
 * /proc/kallsyms on a share of them (such stacks are never kept whole: resolved frame by frame).
 * Run (the young generation large enough that no GC runs in the measured intervals, which is checked):
 *   node --min-semi-space-size=128 --max-semi-space-size=128 --import tsx bench/symbolizer-interval.ts [root] [stacks] [intervals]
 * `root`: the checkout whose src/ is measured (default this one), e.g. an export of an older commit.
 * KILN_BENCH_NO_STACK_HASH=1: samples without their user stack's hash (every stack resolved frame by frame,
 * as a stack new in each interval is).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const root = path.resolve(process.argv[2] ?? '.');
const STACKS = Number(process.argv[3] ?? 420);
const INTERVALS = Number(process.argv[4] ?? 10);
const { DictionaryBuilder } = (await import(pathToFileURL(path.join(root, 'src/model/index.ts')).href)) as typeof import('../src/model/index.js');
const { ProcSymbolizer } = (await import(pathToFileURL(path.join(root, 'src/agent/symbolize/symbolizer.ts')).href)) as typeof import('../src/agent/symbolize/symbolizer.js');
const { parseMaps, isFileBacked } = (await import(pathToFileURL(path.join(root, 'src/agent/symbolize/proc-maps.ts')).href)) as typeof import('../src/agent/symbolize/proc-maps.js');

// Deterministic picks: a Weyl sequence of the golden ratio (spread evenly, the same in every run).
let weyl = 0;
const rand = (): number => (weyl = (weyl + 0x9e37_79b9) >>> 0) / 2 ** 32;
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
const pid = process.pid;
const code = parseMaps(readFileSync(`/proc/${pid}/maps`, 'latin1')).filter(isFileBacked);
// A pool of native return addresses (a stack's frames come from a few hundred distinct ones, as a real process's).
const native = Array.from({ length: 600 }, () => {
  const m = pick(code);
  return BigInt(m.start + Math.floor(rand() * (m.end - m.start)));
});
// 300 JavaScript functions (tagged: odd) and their names.
const functions = Array.from({ length: 300 }, (_, i) => 0x2a_0000_0001 + i * 0x40);
const names = new Map(functions.map((sfi, i) => [sfi, { name: `fn${i}`, file: `/app/lib/m${i % 40}.js`, line: 1 + i }] as const));
const v8Word = (sfi: number) => (1n << 63n) | BigInt(sfi);
const ktext = readFileSync('/proc/kallsyms', 'latin1')
  .split('\n')
  .filter((l) => / [tT] /.test(l) && !l.startsWith('0000'))
  .slice(0, 400)
  .map((l) => BigInt(`0x${l.slice(0, 16)}`) + 4n);

// The interval's samples: a third native only, a third node stacks (JavaScript frames between native ones),
// a third with kernel frames (half of those node stacks). Depths 8–40.
const samples = Array.from({ length: STACKS }, (_, i) => {
  const depth = 8 + Math.floor(rand() * 33);
  const js = i % 3 === 1 || (i % 3 === 2 && i % 2 === 0);
  const userAddrs = Array.from({ length: depth }, (_, d) => (js && d > 1 && d < depth - 4 && rand() < 0.6 ? v8Word(pick(functions)) : pick(native)));
  const kernelAddrs = i % 3 === 2 ? Array.from({ length: 4 + Math.floor(rand() * 8) }, () => pick(ktext)) : [];
  return { pid, kind: 'cpu' as const, comm: 'node', userAddrs, kernelAddrs, userStack: process.env.KILN_BENCH_NO_STACK_HASH === '1' ? 0n : BigInt(i + 1) * 0x9e37_79b9n, count: 1 };
});

const sym = new ProcSymbolizer({ v8: { frame: (_pid: number, sfi: number) => names.get(sfi) } });
const b = new DictionaryBuilder();
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const interval = () => {
  sym.observe(pid);
  for (const s of samples) sym.stack(s, b);
};
for (let i = 0; i < 5; i++) interval();
const frames0 = sym.stats().frames;
const memo0 = sym.stats().memoHits;
const stackHits0 = sym.stats().stackHits;
await new Promise((r) => setTimeout(r, 50));
const gcs0 = gcs;
const used0 = process.memoryUsage().heapUsed;
const t0 = process.cpuUsage();
for (let i = 0; i < INTERVALS; i++) interval();
const cpuUs = process.cpuUsage(t0);
const used1 = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 50));
const s = sym.stats();
const per = (n: number) => (n / INTERVALS).toFixed(0);
console.log(
  `${root}: ${STACKS} stacks an interval, ${INTERVALS} intervals measured: ${per(used1 - used0)} B allocated per interval` +
    `${gcs > gcs0 ? ` (INVALID: ${gcs - gcs0} GCs in the measured intervals)` : ''}; per interval ${per(s.stackHits - stackHits0)} stacks from the memo, ` +
    `${per(s.frames - frames0)} frames of which ${per(s.memoHits - memo0)} answered from the frame memo; CPU ${((cpuUs.user + cpuUs.system) / INTERVALS / 1000).toFixed(2)} ms per interval`,
);
