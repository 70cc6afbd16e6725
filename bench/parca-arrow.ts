/**
 * Cost of Parca's FLAMEGRAPH_ARROW answer for a flame tree of N nodes (default 65 536, the server's
 * max_nodes), against the anchor measured in the same run: the FLAMEGRAPH_TABLE answer of the same
 * tree encoded as protobuf (what Kiln sent the Parca UI before Arrow). Also the IPC size of each.
 *
 *   npx tsx bench/parca-arrow.ts [nodes=65536] [runs=5]
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { flameTreeArrow } from '../src/formats/parca-arrow.js';
import { QueryResponseSchema } from '../src/gen/parca/query/v1alpha1/query_pb.js';
import type { FlameNode } from '../src/query/tree.js';

const NODES = Number(process.argv[2] ?? 65_536);
const RUNS = Number(process.argv[3] ?? 5);

// Additive recurrences (fractional parts of i·α for irrational α): deterministic, evenly spread, and
// independent enough across the three uses for a tree's shape.
let draws = 0;
const rnd = (alpha: number): number => (++draws * alpha) % 1;

/** A tree shaped like a real merge: a few thousand distinct function names, 1-8 children, heavy-tailed values. */
function tree(n: number): FlameNode {
  const root: FlameNode = { name: 'total', self: 0, total: 0, children: [] };
  const open: FlameNode[] = [root];
  for (let made = 1; made < n; made++) {
    const parent = open[Math.floor(Math.pow(rnd(Math.SQRT2), 0.5) * open.length)]!;
    const child: FlameNode = { name: `pkg${Math.floor(rnd(Math.E) * 40)}.func${Math.floor(Math.pow(rnd(Math.PI), 2) * 4000)}`, self: Math.floor(Math.pow(rnd(0.6180339887498949), 4) * 1e6), total: 0, children: [] };
    parent.children.push(child);
    if (parent.children.length >= 8) open.splice(open.indexOf(parent), 1);
    open.push(child);
  }
  const sum = (x: FlameNode): number => (x.total = x.self + x.children.reduce((a, c) => a + sum(c), 0));
  sum(root);
  return root;
}

function tableAnswer(root: FlameNode): Uint8Array {
  const node = (x: FlameNode): object => ({ meta: { function: { name: x.name }, line: {}, location: {} }, cumulative: BigInt(x.total), diff: 0n, children: x.children.map(node) });
  const answer = create(QueryResponseSchema, {
    report: { case: 'flamegraph', value: { root: { cumulative: BigInt(root.total), diff: 0n, children: root.children.map(node) }, unit: 'nanoseconds', height: 0 } },
    total: BigInt(root.total),
  } as Parameters<typeof create<typeof QueryResponseSchema>>[1]);
  return toBinary(QueryResponseSchema, answer);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time(label: string, run: () => Uint8Array): void {
  const ms: number[] = [];
  let bytes = 0;
  run(); // warm-up: JIT and first-use allocations
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    bytes = run().length;
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`${label.padEnd(34)} median ${median(ms).toFixed(1)} ms (runs: ${ms.map((x) => x.toFixed(1)).join(', ')}), ${(bytes / 1024).toFixed(0)} KiB`);
}

const root = tree(NODES);
console.log(`${NODES} nodes, ${RUNS} runs each`);
time('FLAMEGRAPH_TABLE protobuf (anchor)', () => tableAnswer(root));
time('FLAMEGRAPH_ARROW record', () => flameTreeArrow(root).record);
