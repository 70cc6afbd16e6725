import type { WeightedStack } from './stacks.js';
import { topTable } from './top.js';
import { nameRanks, OTHER_NAME, ROOT_NAME } from './tree.js';
import { materialize, TreeBuilder } from './tree-builder.js';

/**
 * Comparing two selections (base = before / left, head = after / right): one tree holding both
 * values on every node, and a per-function table sorted by change.
 */
export interface DiffNode {
  readonly name: string;
  baseSelf: number;
  baseTotal: number;
  headSelf: number;
  headTotal: number;
  children: DiffNode[];
}

export interface DiffOptions {
  /**
   * Scale the base so its total equals the head's before comparing: when the two selections cover
   * different durations or replica counts, this shows changes in *share* instead of in volume.
   * Values are rounded per stack, so both trees stay whole numbers and self-consistent.
   */
  readonly normalize?: boolean;
  readonly maxNodes?: number;
}

export interface DiffTableEntry {
  readonly name: string;
  readonly baseSelf: number;
  readonly baseTotal: number;
  readonly headSelf: number;
  readonly headTotal: number;
  /** headSelf - baseSelf. */
  readonly selfChange: number;
  /** headTotal - baseTotal. */
  readonly totalChange: number;
}

export interface DiffTableOptions {
  readonly normalize?: boolean;
  /** Which change to sort by (largest absolute change first). Default self. */
  readonly sort?: 'self' | 'total';
  readonly limit?: number;
  readonly filter?: string;
}

export interface DiffTable {
  readonly baseTotal: number;
  readonly headTotal: number;
  readonly entries: DiffTableEntry[];
}

function sum(stacks: readonly WeightedStack[]): number {
  let t = 0;
  for (const s of stacks) t += s.value;
  return t;
}

/** The base stacks scaled to the head's total (unchanged when either side is empty). */
export function normalizeBase(base: readonly WeightedStack[], head: readonly WeightedStack[]): readonly WeightedStack[] {
  const b = sum(base);
  const h = sum(head);
  if (b === 0 || h === 0 || b === h) return base;
  const k = h / b;
  return base.map((s) => ({ frames: s.frames, value: Math.round(s.value * k) }));
}

/** Both sides merged into one shape (columns base, head), trimmed by the larger side while merging. */
export function buildDiffTree(base: readonly WeightedStack[], head: readonly WeightedStack[], opts: DiffOptions = {}): DiffNode {
  const b = new TreeBuilder(ROOT_NAME, 2);
  for (const s of opts.normalize ? normalizeBase(base, head) : base) b.add(s, 0);
  for (const s of head) b.add(s, 1);
  return materialize<DiffNode>(b, b.keep(opts.maxNodes ?? 0), nameRanks(b), {
    node: (i) => ({
      name: b.names[b.nameOf[i]!]!,
      baseSelf: b.self[2 * i]!,
      baseTotal: b.total[2 * i]!,
      headSelf: b.self[2 * i + 1]!,
      headTotal: b.total[2 * i + 1]!,
      children: [],
    }),
    attach: (p, children) => (p.children = children),
    other: ([bt, ht]) => ({ name: OTHER_NAME, baseSelf: bt!, baseTotal: bt!, headSelf: ht!, headTotal: ht!, children: [] }),
  });
}

export function diffTable(base: readonly WeightedStack[], head: readonly WeightedStack[], opts: DiffTableOptions = {}): DiffTable {
  const b = opts.normalize ? normalizeBase(base, head) : base;
  const bt = topTable(b, { filter: opts.filter });
  const ht = topTable(head, { filter: opts.filter });
  const rows = new Map<string, { baseSelf: number; baseTotal: number; headSelf: number; headTotal: number }>();
  for (const e of bt.entries) rows.set(e.name, { baseSelf: e.self, baseTotal: e.total, headSelf: 0, headTotal: 0 });
  for (const e of ht.entries) {
    const r = rows.get(e.name) ?? { baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0 };
    r.headSelf = e.self;
    r.headTotal = e.total;
    rows.set(e.name, r);
  }
  let entries: DiffTableEntry[] = [...rows].map(([name, r]) => ({
    name,
    ...r,
    selfChange: r.headSelf - r.baseSelf,
    totalChange: r.headTotal - r.baseTotal,
  }));
  const key = opts.sort === 'total' ? 'totalChange' : 'selfChange';
  const other = key === 'totalChange' ? 'selfChange' : 'totalChange';
  entries.sort(
    (x, y) =>
      Math.abs(y[key]) - Math.abs(x[key]) ||
      Math.abs(y[other]) - Math.abs(x[other]) ||
      (x.name < y.name ? -1 : x.name > y.name ? 1 : 0),
  );
  if (opts.limit && opts.limit > 0) entries = entries.slice(0, opts.limit);
  return { baseTotal: bt.total, headTotal: ht.total, entries };
}
