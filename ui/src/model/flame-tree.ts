/**
 * The flame graph as flat typed arrays, laid out level by level (index order = depth, then x).
 * Flat arrays instead of node objects keep a 50 000-node tree cheap to draw, search and walk:
 * the renderer binary-searches a level by x and never allocates per frame.
 */
export interface FlameTree {
  readonly names: readonly string[];
  readonly count: number;
  /** Node index where each level starts; length = levels + 1. */
  readonly levelStart: Int32Array;
  readonly depth: Int32Array;
  /** Absolute offset from the left edge, in value units. */
  readonly x: Float64Array;
  readonly total: Float64Array;
  readonly self: Float64Array;
  readonly nameIdx: Int32Array;
  readonly parent: Int32Array;
  /** Children of node i are the contiguous range [childStart[i], childEnd[i]). */
  readonly childStart: Int32Array;
  readonly childEnd: Int32Array;
  /** Present for a diff graph: baseline (left) and comparison (right) values per node. */
  readonly diff?: DiffValues;
}

export interface DiffValues {
  readonly leftTotal: Float64Array;
  readonly leftSelf: Float64Array;
  readonly rightTotal: Float64Array;
  readonly rightSelf: Float64Array;
  readonly leftTicks: number;
  readonly rightTicks: number;
}

export function levelCount(t: FlameTree): number {
  return t.levelStart.length - 1;
}

export function rootTotal(t: FlameTree): number {
  return t.count > 0 ? t.total[0] : 0;
}

export function nodeName(t: FlameTree, i: number): string {
  return t.names[t.nameIdx[i]] ?? '?';
}

/** Names from the root (excluded) down to node i. */
export function nodePath(t: FlameTree, i: number): string[] {
  const out: string[] = [];
  for (let n = i; n > 0; n = t.parent[n]) out.push(nodeName(t, n));
  return out.reverse();
}

/** The node reached by following child names from the root; -1 if the path no longer exists. */
export function findPath(t: FlameTree, path: readonly string[]): number {
  if (t.count === 0) return -1;
  let n = 0;
  for (const name of path) {
    let next = -1;
    for (let c = t.childStart[n]; c < t.childEnd[n]; c++) {
      if (nodeName(t, c) === name) {
        next = c;
        break;
      }
    }
    if (next < 0) return -1;
    n = next;
  }
  return n;
}

/** Fills parent and child ranges once nodes are laid out level by level, sorted by x within a level. */
export function linkLevels(
  levelStart: Int32Array,
  x: Float64Array,
  total: Float64Array,
): { depth: Int32Array; parent: Int32Array; childStart: Int32Array; childEnd: Int32Array } {
  const count = levelStart[levelStart.length - 1];
  const depth = new Int32Array(count);
  const parent = new Int32Array(count).fill(-1);
  const childStart = new Int32Array(count);
  const childEnd = new Int32Array(count);
  for (let d = 0; d + 1 < levelStart.length; d++) {
    for (let i = levelStart[d]; i < levelStart[d + 1]; i++) depth[i] = d;
  }
  for (let d = 1; d + 1 < levelStart.length; d++) {
    // Both levels are sorted by x, so one forward pass pairs each child with its enclosing parent.
    let p = levelStart[d - 1];
    const pEnd = levelStart[d];
    for (let c = levelStart[d]; c < levelStart[d + 1]; c++) {
      while (p < pEnd - 1 && x[c] >= x[p] + total[p]) p++;
      parent[c] = p;
    }
  }
  for (let i = 0; i < count; i++) childStart[i] = childEnd[i] = 0;
  for (let c = count - 1; c >= 1; c--) {
    const p = parent[c];
    if (p < 0) continue;
    if (childEnd[p] === 0) childEnd[p] = c + 1;
    childStart[p] = c;
  }
  return { depth, parent, childStart, childEnd };
}
