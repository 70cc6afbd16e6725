import type { WeightedStack } from './stacks.js';
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

interface BuildNode {
  readonly name: string;
  self: number;
  total: number;
  kids: Map<string, BuildNode> | undefined;
}

/** Merges stacks into one tree; sums equal frame paths. */
export function buildTree(stacks: Iterable<WeightedStack>): FlameNode {
  const root: BuildNode = { name: ROOT_NAME, self: 0, total: 0, kids: undefined };
  for (const s of stacks) {
    const v = s.value;
    let node = root;
    node.total += v;
    const frames = s.frames;
    for (let i = 0; i < frames.length; i++) {
      const name = frames[i]!.name;
      let kids = node.kids;
      if (!kids) kids = node.kids = new Map();
      let child = kids.get(name);
      if (!child) {
        child = { name, self: 0, total: 0, kids: undefined };
        kids.set(name, child);
      }
      child.total += v;
      node = child;
    }
    node.self += v;
  }
  return finish(root);
}

function finish(b: BuildNode): FlameNode {
  const children: FlameNode[] = [];
  if (b.kids) for (const k of b.kids.values()) children.push(finish(k));
  sortChildren(children);
  return { name: b.name, self: b.self, total: b.total, children };
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
