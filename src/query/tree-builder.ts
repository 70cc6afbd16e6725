import { InputError } from '../model/errors.js';
import type { WeightedStack } from './stacks.js';

/**
 * The flame tree while it is being merged, kept in flat typed arrays: a merge of 100 000 stacks makes
 * millions of nodes, and one object plus one Map per node is what made building slow. Node 0 is the
 * root; a node is always created after its parent, so index order lists parents before children
 * (trimming relies on it). Children are found through one open-addressing hash table on
 * (parent, name) for the whole tree: a JS Map keyed by numbers past 2^31 was the slowest part.
 */
export class TreeBuilder {
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  size = 1;
  nameOf = new Int32Array(1024);
  parent = new Int32Array(1024);
  self = new Float64Array(1024);
  total = new Float64Array(1024);
  /** Slots hold node index + 1 (0 = empty); linear probing; kept at most half full. */
  private slots = new Int32Array(2048);

  constructor(rootName: string) {
    this.nameOf[0] = this.nameId(rootName);
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

  add(stack: WeightedStack): void {
    const v = stack.value;
    let node = 0;
    this.total[0] += v;
    const frames = stack.frames;
    for (let i = 0; i < frames.length; i++) {
      node = this.child(node, this.nameId(frames[i]!.name));
      this.total[node] += v;
    }
    this.self[node] += v;
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
    const widenI = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const widenF = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.nameOf = widenI(this.nameOf);
    this.parent = widenI(this.parent);
    this.self = widenF(this.self);
    this.total = widenF(this.total);
  }

  /**
   * Which nodes survive a `maxNodes` cut: the heaviest by total, ties taken in index order (parents
   * first), so the kept set is connected to the root. Returns undefined when everything fits.
   */
  keep(maxNodes: number): Uint8Array | undefined {
    if (!(maxNodes > 0) || this.size <= maxNodes) return undefined;
    const totals = this.total.slice(0, this.size);
    const sorted = totals.slice().sort();
    const threshold = sorted[this.size - maxNodes]!;
    let budget = maxNodes;
    for (let i = 0; i < this.size; i++) if (totals[i]! > threshold) budget--;
    const keep = new Uint8Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const t = totals[i]!;
      if (t > threshold || (t === threshold && budget-- > 0)) keep[i] = 1;
    }
    keep[0] = 1;
    return keep;
  }
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
