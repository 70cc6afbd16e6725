/**
 * Query-side cost of one merge: store rows + symbols → frames → flame tree → max_nodes trim →
 * querier.v1 FlameGraph levels, plus the top table, for N distinct stacks (default 100 000).
 * Stacks are generated like a real service's: a shared trunk (runtime, main loop), branching handlers,
 * leaves from a large function vocabulary, 10–50 frames deep, heavy-tailed values.
 *
 *   npx tsx bench/query-tree.ts [stacks=100000] [maxNodes=8192] [runs=5] [only=PHASE]
 * `only=diff` times the diff alone, without the garbage the other phases leave behind.
 */
import { toFlameGraph } from '../src/formats/flamebearer.js';
import { DictionaryBuilder } from '../src/model/index.js';
import { weightedStacks } from '../src/query/stacks.js';
import { buildDiffTree } from '../src/query/diff.js';
import { topTable } from '../src/query/top.js';
import { buildTree, countNodes, trimFlameTree } from '../src/query/tree.js';
import type { ResolvedStacks, StackValue } from '../src/store/store.js';

const N = Number(process.argv[2] ?? 100_000);
const MAX_NODES = Number(process.argv[3] ?? 8192);
const RUNS = Number(process.argv[4] ?? 5);
const ONLY = process.argv[5];

// mulberry32: a full-period 32-bit generator (a plain LCG in doubles loses bits and cycles early).
let seed = 42;
const rnd = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (n: number, skew = 2): number => Math.floor(Math.pow(rnd(), skew) * n);

function generate(): { rows: StackValue[]; resolved: ResolvedStacks } {
  const b = new DictionaryBuilder();
  const bins = ['/usr/bin/app', '/usr/lib/libc.so.6', '/usr/lib/libssl.so.3', '[kernel.kallsyms]'].map((x) => b.mapping(x, ''));
  const fn = (prefix: string, i: number, bin: number) => b.frame(`${prefix}_${i}`, bins[bin]);
  const trunk = [b.frame('_start', bins[1]), b.frame('__libc_start_main', bins[1]), b.frame('main', bins[0]), b.frame('runtime.loop', bins[0])];
  const stacks = new Map<string, number>();
  const rows: StackValue[] = [];
  const map = new Map<bigint, number>();
  while (rows.length < N) {
    const depth = 10 + pick(40, 1);
    const frames = [...trunk];
    // Walk a call graph: each function calls one of a few callees (skewed towards the first), so
    // stacks share long prefixes the way real ones do; 5 000 functions in all.
    let f = 0;
    for (let d = 0; d < depth; d++) {
      f = (f * 31 + 7 + pick(5, 2)) % 5000;
      const leaf = d === depth - 1;
      frames.push(fn(leaf ? 'leaf' : 'fn', f, leaf ? pick(4, 1) : 0));
    }
    const key = frames.join(',');
    if (stacks.has(key)) continue;
    const idx = b.stack(frames.reverse());
    stacks.set(key, idx);
    const id = BigInt(rows.length + 1);
    map.set(id, idx);
    rows.push({ stackId: id, value: 1 + Math.floor(1e7 * Math.pow(rnd(), 6)) });
  }
  return { rows, resolved: { dict: b.dict, stacks: map } };
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}


const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const { rows, resolved } = generate();
if (ONLY === 'diff') {
  const stacks = weightedStacks(rows, resolved);
  const head = stacks.map((s, i) => (i % 2 ? { frames: s.frames, value: s.value * 2 } : s));
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(time(() => buildDiffTree(stacks, head, { maxNodes: MAX_NODES }))[1]);
  console.log(`${N} stacks, diff alone, ${RUNS} runs, median ms: ${median(runs).toFixed(1)}  (runs: ${runs.map((x) => x.toFixed(0)).join(' ')})`);
  process.exit(0);
}
// build+trim is the query path (trimmed while merging); build and trim time the full tree and the
// generic trimFlameTree on it, for comparison.
const phases: Record<string, number[]> = { frames: [], 'build+trim': [], encode: [], top: [], all: [], diff: [], build: [], trim: [] };
let nodes = 0;
let kept = 0;
for (let r = 0; r < RUNS; r++) {
  const [stacks, tFrames] = time(() => weightedStacks(rows, resolved));
  const [trimmed, tBuildTrim] = time(() => buildTree(stacks, MAX_NODES));
  const [, tEncode] = time(() => toFlameGraph(trimmed));
  const [tree, tBuild] = time(() => buildTree(stacks));
  const [, tTrim] = time(() => trimFlameTree(tree, MAX_NODES));
  const [, tTop] = time(() => topTable(stacks, { limit: 100 }));
  // A diff against the same stacks with every other value doubled: two sides, one shape.
  const head = stacks.map((s, i) => (i % 2 ? { frames: s.frames, value: s.value * 2 } : s));
  const [, tDiff] = time(() => buildDiffTree(stacks, head, { maxNodes: MAX_NODES }));
  nodes = countNodes(tree);
  kept = countNodes(trimmed);
  phases.frames!.push(tFrames);
  phases['build+trim']!.push(tBuildTrim);
  phases.encode!.push(tEncode);
  phases.top!.push(tTop);
  phases.all!.push(tFrames + tBuildTrim + tEncode);
  phases.diff!.push(tDiff);
  phases.build!.push(tBuild);
  phases.trim!.push(tTrim);
}
console.log(`${N} stacks, ${nodes} tree nodes, trimmed to ${kept} nodes (max_nodes ${MAX_NODES}), ${RUNS} runs, median ms:`);
for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(10)} ${median(v).toFixed(1)}  (runs: ${v.map((x) => x.toFixed(0)).join(' ')})`);
