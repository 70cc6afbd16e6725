import type { WeightedStack } from './stacks.js';
import { topTable } from './top.js';
import { OTHER_NAME, ROOT_NAME, sortChildren } from './tree.js';
import { trimTree } from './trim.js';

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

interface BuildDiff {
  readonly name: string;
  baseSelf: number;
  baseTotal: number;
  headSelf: number;
  headTotal: number;
  kids: Map<string, BuildDiff> | undefined;
}

export function buildDiffTree(base: readonly WeightedStack[], head: readonly WeightedStack[], opts: DiffOptions = {}): DiffNode {
  const b = opts.normalize ? normalizeBase(base, head) : base;
  const root: BuildDiff = { name: ROOT_NAME, baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0, kids: undefined };
  const add = (stacks: readonly WeightedStack[], side: 'base' | 'head') => {
    for (const s of stacks) {
      let node = root;
      bump(node, side, s.value, false);
      for (const f of s.frames) {
        if (!node.kids) node.kids = new Map();
        let child = node.kids.get(f.name);
        if (!child) {
          child = { name: f.name, baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0, kids: undefined };
          node.kids.set(f.name, child);
        }
        bump(child, side, s.value, false);
        node = child;
      }
      bump(node, side, s.value, true);
    }
  };
  add(b, 'base');
  add(head, 'head');
  const tree = finish(root);
  return trimTree(tree, opts.maxNodes ?? 0, {
    weight: (n) => Math.max(n.baseTotal, n.headTotal),
    children: (n) => n.children,
    rebuild: (n, children) => ({ ...n, children }),
    other: (cut) => {
      const o: DiffNode = { name: OTHER_NAME, baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0, children: [] };
      for (const c of cut) {
        o.baseTotal += c.baseTotal;
        o.headTotal += c.headTotal;
      }
      o.baseSelf = o.baseTotal;
      o.headSelf = o.headTotal;
      return o;
    },
  });
}

function bump(n: BuildDiff, side: 'base' | 'head', v: number, self: boolean): void {
  if (side === 'base') {
    if (self) n.baseSelf += v;
    else n.baseTotal += v;
  } else if (self) n.headSelf += v;
  else n.headTotal += v;
}

function finish(b: BuildDiff): DiffNode {
  const children: DiffNode[] = [];
  if (b.kids) for (const k of b.kids.values()) children.push(finish(k));
  sortChildren(children);
  return { name: b.name, baseSelf: b.baseSelf, baseTotal: b.baseTotal, headSelf: b.headSelf, headTotal: b.headTotal, children };
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
