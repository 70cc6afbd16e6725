/**
 * `max_nodes` trimming for any tree shape (flame trees, diff trees): keep the `maxNodes` heaviest
 * nodes, fold the rest of each parent's children into one `other` node.
 *
 * Why this is exact and connected: a node weighs at least as much as any of its children (weights are
 * totals of non-negative values), so ranking by (weight desc, depth asc) always ranks a parent before
 * its children — the kept set is a subtree from the root. Ties at the cut are broken breadth-first, so
 * a forest of equal leaves cannot blow the budget the way a plain "weight ≥ threshold" rule would.
 */
export interface TrimOps<N> {
  weight(n: N): number;
  children(n: N): readonly N[];
  /** A copy of `n` with these children. */
  rebuild(n: N, children: N[]): N;
  /** The node that stands for `cut` (never empty) under one parent. */
  other(cut: readonly N[]): N;
}

export function trimTree<N>(root: N, maxNodes: number, ops: TrimOps<N>): N {
  if (!(maxNodes > 0)) return root;
  // Breadth-first order: parents before children, shallow before deep.
  const order: N[] = [root];
  for (let i = 0; i < order.length; i++) for (const c of ops.children(order[i]!)) order.push(c);
  if (order.length <= maxNodes) return root;

  const weights = new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) weights[i] = ops.weight(order[i]!);
  const sorted = weights.slice().sort();
  // The weight of the maxNodes-th heaviest node: heavier ones are all kept, equal ones while budget lasts.
  const threshold = sorted[sorted.length - maxNodes]!;
  let above = 0;
  for (let i = 0; i < weights.length; i++) if (weights[i]! > threshold) above++;
  let tieBudget = maxNodes - above;

  const keep = new Set<N>();
  for (let i = 0; i < order.length; i++) {
    const w = weights[i]!;
    if (w > threshold || (w === threshold && tieBudget > 0)) {
      if (w === threshold) tieBudget--;
      keep.add(order[i]!);
    }
  }
  keep.add(root);

  const rebuild = (n: N): N => {
    const kept: N[] = [];
    const cut: N[] = [];
    for (const c of ops.children(n)) (keep.has(c) ? kept : cut).push(c);
    if (kept.length === 0 && cut.length === 0) return n;
    const children = kept.map(rebuild);
    if (cut.length > 0) children.push(ops.other(cut));
    return ops.rebuild(n, children);
  };
  return rebuild(root);
}
