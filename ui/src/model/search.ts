import { nodeName, type FlameTree } from './flame-tree.js';

/** One row of the top table: a function's own (self) and inclusive (total) value over the graph. */
export interface FunctionRow {
  readonly name: string;
  readonly self: number;
  readonly total: number;
  /** Diff graphs only: baseline and comparison values. */
  readonly leftSelf?: number;
  readonly rightSelf?: number;
  readonly leftTotal?: number;
  readonly rightTotal?: number;
}

/**
 * Self and total per function name. A recursive function's total counts only its outermost frame on each
 * path, so total never exceeds the root (the same rule pprof's `top -cum` follows).
 */
export function functionTable(t: FlameTree): FunctionRow[] {
  const acc = new Map<string, { self: number; total: number; ls: number; rs: number; lt: number; rt: number }>();
  const onPath = new Map<string, number>();
  const d = t.diff;
  const walk = (n: number): void => {
    const name = nodeName(t, n);
    let row = acc.get(name);
    if (!row) acc.set(name, (row = { self: 0, total: 0, ls: 0, rs: 0, lt: 0, rt: 0 }));
    row.self += t.self[n];
    if (d) {
      row.ls += d.leftSelf[n];
      row.rs += d.rightSelf[n];
    }
    const depthOfName = onPath.get(name) ?? 0;
    if (depthOfName === 0) {
      row.total += t.total[n];
      if (d) {
        row.lt += d.leftTotal[n];
        row.rt += d.rightTotal[n];
      }
    }
    onPath.set(name, depthOfName + 1);
    for (let c = t.childStart[n]; c < t.childEnd[n]; c++) walk(c);
    onPath.set(name, depthOfName);
  };
  // Iterative over the root's children would be equivalent; recursion depth is the stack depth (< a few hundred).
  for (let c = t.count ? t.childStart[0] : 0; c < (t.count ? t.childEnd[0] : 0); c++) walk(c);
  return [...acc.entries()].map(([name, r]) =>
    d
      ? { name, self: r.self, total: r.total, leftSelf: r.ls, rightSelf: r.rs, leftTotal: r.lt, rightTotal: r.rt }
      : { name, self: r.self, total: r.total },
  );
}

/** Nodes whose name matches, and the share of the root they cover (nested matches counted once). */
export function searchMatches(t: FlameTree, query: string): { matched: Uint8Array; value: number } {
  const matched = new Uint8Array(t.count);
  if (!query || t.count === 0) return { matched, value: 0 };
  const test = matcherFor(query);
  const nameHit = t.names.map((n) => test(n));
  let value = 0;
  // Levels are in depth order, so a parent's "covered" flag is set before its children are visited.
  const covered = new Uint8Array(t.count);
  for (let i = 1; i < t.count; i++) {
    const p = t.parent[i];
    const parentCovered = p >= 0 && (covered[p] === 1 || matched[p] === 1);
    if (nameHit[t.nameIdx[i]]) {
      matched[i] = 1;
      if (!parentCovered) value += t.total[i];
    }
    covered[i] = parentCovered || matched[i] === 1 ? 1 : 0;
  }
  return { matched, value };
}

/** `/regex/` searches as a regular expression, anything else as a case-insensitive substring. */
export function matcherFor(query: string): (name: string) => boolean {
  const re = /^\/(.+)\/([a-z]*)$/.exec(query);
  if (re) {
    try {
      const r = new RegExp(re[1], re[2].includes('i') ? 'i' : '');
      return (n) => r.test(n);
    } catch {
      // An unfinished regex while typing matches nothing rather than throwing.
      return () => false;
    }
  }
  const q = query.toLowerCase();
  return (n) => n.toLowerCase().includes(q);
}
