import { InputError } from '../model/errors.js';
import type { WeightedStack } from './stacks.js';

/**
 * The flame tree while it is being merged, kept in flat typed arrays: a merge of 100 000 stacks makes
 * millions of nodes, and one object plus one Map per node is what made building slow. Node 0 is the
 * root; a node is always created after its parent, so index order lists parents before children
 * (trimming relies on it). Children are found through one open-addressing hash table on
 * (parent, name) for the whole tree: a JS Map keyed by numbers past 2^31 was the slowest part.
 *
 * `columns` values per node: 1 for a flame graph, 2 for a diff (base, head) sharing one shape.
 * Values of node i, column c live at [i * columns + c].
 */
export class TreeBuilder {
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  size = 1;
  nameOf = new Int32Array(1024);
  parent = new Int32Array(1024);
  self: Float64Array;
  total: Float64Array;
  /** Value per column of stacks known only by their sum (a limited merge's remainder): the root's `other`. */
  readonly remainder: Float64Array;
  /** Slots hold node index + 1 (0 = empty); linear probing; kept at most half full. */
  private slots = new Int32Array(2048);

  constructor(rootName: string, readonly columns = 1) {
    this.self = new Float64Array(1024 * columns);
    this.total = new Float64Array(1024 * columns);
    this.remainder = new Float64Array(columns);
    this.nameOf[0] = this.nameId(rootName);
  }

  /**
   * Adds value whose stacks are unknown (the store summed the stacks a limited merge cut): it counts
   * in the root's total and shows as the root's `other` child, where trimming puts what it cuts.
   */
  addRemainder(value: number, column = 0): void {
    this.total[column] += value;
    this.remainder[column] += value;
  }

  nameId(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.push(name) - 1;
      if (id >= MAX_NAMES) throw new InputError(`selection has more than ${MAX_NAMES} distinct frame names`);
      this.nameIds.set(name, id);
    }
    return id;
  }

  add(stack: WeightedStack, column = 0): void {
    const v = stack.value;
    const cols = this.columns;
    let node = 0;
    this.total[column] += v;
    const frames = stack.frames;
    for (let i = 0; i < frames.length; i++) {
      node = this.child(node, this.nameId(frames[i]!.name));
      this.total[node * cols + column] += v;
    }
    this.self[node * cols + column] += v;
  }

  private child(parent: number, name: number): number {
    const mask = this.slots.length - 1;
    let h = slotOf(parent, name, mask);
    for (;;) {
      const at = this.slots[h]!;
      if (at === 0) break;
      const c = at - 1;
      if (this.nameOf[c] === name && this.parent[c] === parent) return c;
      h = (h + 1) & mask;
    }
    if (this.size === this.nameOf.length) this.grow();
    const c = this.size++;
    this.nameOf[c] = name;
    this.parent[c] = parent;
    this.slots[h] = c + 1;
    if (this.size * 2 > this.slots.length) this.rehash();
    return c;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let c = 1; c < this.size; c++) {
      let h = slotOf(this.parent[c]!, this.nameOf[c]!, mask);
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = c + 1;
    }
    this.slots = slots;
  }

  private grow(): void {
    const n = this.nameOf.length * 2;
    const widen = <A extends Int32Array | Float64Array>(a: A, make: (n: number) => A, size: number): A => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.nameOf = widen(this.nameOf, (k) => new Int32Array(k), n);
    this.parent = widen(this.parent, (k) => new Int32Array(k), n);
    this.self = widen(this.self, (k) => new Float64Array(k), n * this.columns);
    this.total = widen(this.total, (k) => new Float64Array(k), n * this.columns);
  }

  /** A node's weight for trimming: its largest total over the columns. */
  weight(i: number): number {
    let w = this.total[i * this.columns]!;
    for (let c = 1; c < this.columns; c++) w = Math.max(w, this.total[i * this.columns + c]!);
    return w;
  }

  /**
   * Which nodes survive a `maxNodes` cut: the heaviest by weight, ties taken in index order (parents
   * first), so the kept set is connected to the root. Returns undefined when everything fits.
   */
  keep(maxNodes: number): Uint8Array | undefined {
    if (!(maxNodes > 0) || this.size <= maxNodes) return undefined;
    const weights = new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) weights[i] = this.weight(i);
    const threshold = nthSmallest(weights.slice(), this.size - maxNodes);
    let budget = maxNodes;
    for (let i = 0; i < this.size; i++) if (weights[i]! > threshold) budget--;
    const keep = new Uint8Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const w = weights[i]!;
      if (w > threshold || (w === threshold && budget-- > 0)) keep[i] = 1;
    }
    keep[0] = 1;
    return keep;
  }
}

export interface MaterializeOps<N extends object> {
  /** The node object for builder node i (children are attached afterwards). */
  node(i: number): N;
  /** Sets a node's children, already in display order. */
  attach(parent: N, children: N[]): void;
  /** The `other` node standing for cut children, given their summed totals per column. */
  other(totals: Float64Array): N;
}

/**
 * Turns the kept part of a builder into node objects: children sorted by `rank` of their names, each
 * parent's cut children summed into one `other` node appended last.
 */
export function materialize<N extends object>(b: TreeBuilder, keep: Uint8Array | undefined, rank: Int32Array, ops: MaterializeOps<N>): N {
  const n = b.size;
  const cols = b.columns;
  // Typed arrays throughout: with no trimming this runs over millions of nodes.
  const reachable = new Uint8Array(n);
  reachable[0] = 1;
  const firstKid = new Int32Array(n).fill(-1);
  const nextKid = new Int32Array(n);
  const hasCut = new Uint8Array(n);
  const hasRemainder = b.remainder.some((v) => v !== 0);
  const cutSums = keep || hasRemainder ? new Float64Array(n * cols) : undefined;
  if (hasRemainder) {
    // The remainder and what trimming cuts under the root are one `other` node, never two.
    hasCut[0] = 1;
    cutSums!.set(b.remainder, 0);
  }
  for (let i = 1; i < n; i++) {
    const p = b.parent[i]!;
    if (!reachable[p]) continue;
    if (!keep || keep[i]) {
      reachable[i] = 1;
      nextKid[i] = firstKid[p]!;
      firstKid[p] = i;
    } else {
      hasCut[p] = 1;
      for (let c = 0; c < cols; c++) cutSums![p * cols + c] += b.total[i * cols + c]!;
    }
  }
  const nodes: N[] = new Array(n);
  for (let i = 0; i < n; i++) if (reachable[i]) nodes[i] = ops.node(i);
  const kids: number[] = [];
  for (let p = 0; p < n; p++) {
    if (!reachable[p] || (firstKid[p] === -1 && !hasCut[p])) continue;
    kids.length = 0;
    for (let k = firstKid[p]!; k !== -1; k = nextKid[k]!) kids.push(k);
    kids.sort((x, y) => rank[b.nameOf[x]!]! - rank[b.nameOf[y]!]!);
    const children = kids.map((i) => nodes[i]!);
    if (hasCut[p]) children.push(ops.other(cutSums!.subarray(p * cols, p * cols + cols)));
    ops.attach(nodes[p]!, children);
  }
  return nodes[0]!;
}

/**
 * The value that would sit at index k if `a` were sorted ascending (a is reordered). Hoare's
 * quickselect: linear on average, where a full sort of millions of weights was a third of a merge.
 */
export function nthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    // Median of three as pivot keeps sorted and reversed inputs linear.
    const mid = (lo + hi) >>> 1;
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function slotOf(parent: number, name: number, mask: number): number {
  // Mix both ids into all 32 bits (murmur3's finaliser), so low-bit masks spread well.
  let x = Math.imul(parent, 0x9e3779b1) ^ name;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return x & mask;
}

/** 2^22 distinct names: far beyond any real profile; past it a selection is refused, not half-built. */
export const MAX_NAMES = 4_194_304;
