import type { WeightedStack } from './stacks.js';
import { materialize, TreeBuilder } from './tree-builder.js';
import { trimTree } from './trim.js';

/**
 * A flame graph as a tree: the root is named "total" and holds every sample; a node's total is its
 * self plus its children's totals. Children are sorted by name, with `other` (what trimming folded)
 * last — the order Pyroscope draws them in, so the same data gives the same picture.
 */
export interface FlameNode {
  readonly name: string;
  self: number;
  total: number;
  children: FlameNode[];
}

export const ROOT_NAME = 'total';
/** Name of the node that holds a parent's children cut by `maxNodes`. */
export const OTHER_NAME = 'other';

/**
 * Merges stacks into one tree (equal frame paths sum). With `maxNodes` > 0 the tree is trimmed as
 * trimFlameTree does, but before node objects exist, so a huge merge costs only what it keeps.
 * `remainder` is value whose stacks were never fetched (a limited merge): it joins the root's `other`.
 */
export function buildTree(stacks: Iterable<WeightedStack>, maxNodes = 0, remainder = 0): FlameNode {
  const b = new TreeBuilder(ROOT_NAME);
  for (const s of stacks) b.add(s);
  if (remainder !== 0) b.addRemainder(remainder);
  return materialize<FlameNode>(b, b.keep(maxNodes), nameRanks(b), {
    node: (i) => ({ name: b.names[b.nameOf[i]!]!, self: b.self[i]!, total: b.total[i]!, children: [] }),
    attach: (p, children) => (p.children = children),
    other: ([t]) => ({ name: OTHER_NAME, self: t!, total: t!, children: [] }),
  });
}

/** Display order of every name the builder has seen (by name, `other` last), as ranks. */
export function nameRanks(b: TreeBuilder): Int32Array {
  // Rank every distinct name once instead of comparing strings in every children sort.
  const byName = b.names.map((name, id) => ({ name, id })).sort(compareNodeNames);
  const rank = new Int32Array(b.names.length);
  byName.forEach((x, i) => (rank[x.id] = i));
  return rank;
}

export function compareNodeNames(a: { name: string }, b: { name: string }): number {
  // `other` is not a function: keep it at the end whatever its spelling sorts as.
  if (a.name === OTHER_NAME) return b.name === OTHER_NAME ? 0 : 1;
  if (b.name === OTHER_NAME) return -1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function sortChildren<N extends { name: string }>(children: N[]): void {
  children.sort(compareNodeNames);
}

/**
 * Keeps the `maxNodes` heaviest nodes (root included) and folds each parent's cut children into one
 * `other` child of that parent, so every total is unchanged. `other` nodes come on top of the budget.
 * 0 or less means no limit.
 */
export function trimFlameTree(root: FlameNode, maxNodes: number): FlameNode {
  return trimTree(root, maxNodes, {
    weight: (n) => n.total,
    children: (n) => n.children,
    rebuild: (n, children) => ({ name: n.name, self: n.self, total: n.total, children }),
    other: (cut) => {
      let total = 0;
      for (const c of cut) total += c.total;
      return { name: OTHER_NAME, self: total, total, children: [] };
    },
  });
}

/** Number of nodes, root included. */
export function countNodes(root: { children: readonly unknown[] }): number {
  let n = 0;
  const todo: { children: readonly unknown[] }[] = [root];
  while (todo.length > 0) {
    const node = todo.pop()!;
    n++;
    for (const c of node.children) todo.push(c as { children: readonly unknown[] });
  }
  return n;
}

/** Depth-first walk, root first; `depth` of the root is 0. */
export function walk(root: FlameNode, visit: (node: FlameNode, depth: number, path: readonly FlameNode[]) => void): void {
  const path: FlameNode[] = [];
  const go = (n: FlameNode): void => {
    visit(n, path.length, path);
    path.push(n);
    for (const c of n.children) go(c);
    path.pop();
  };
  go(root);
}
