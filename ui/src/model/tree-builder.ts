import { linkLevels, type FlameTree } from './flame-tree.js';

/**
 * Builds a FlameTree from stacks (a trie keyed by frame name). Used by the views that reshape a graph in
 * the browser — focus, hide, sandwich — so they need nothing from the server beyond the merged graph.
 * Children are ordered by name, so the same data always draws the same picture.
 */
export class TreeBuilder {
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly nodeName: number[] = [];
  private readonly nodeSelf: number[] = [];
  private readonly nodeParent: number[] = [];
  private readonly kids: (Map<number, number> | undefined)[] = [];

  constructor(rootName = 'total') {
    this.nodeName.push(this.intern(rootName));
    this.nodeSelf.push(0);
    this.nodeParent.push(-1);
    this.kids.push(undefined);
  }

  static readonly ROOT = 0;

  intern(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    return id;
  }

  /** The child of `parent` named `name`, created if missing. */
  child(parent: number, name: string): number {
    const id = this.intern(name);
    let m = this.kids[parent];
    if (!m) this.kids[parent] = m = new Map();
    let c = m.get(id);
    if (c === undefined) {
      c = this.nodeName.length;
      this.nodeName.push(id);
      this.nodeSelf.push(0);
      this.nodeParent.push(parent);
      this.kids.push(undefined);
      m.set(id, c);
    }
    return c;
  }

  addSelf(node: number, value: number): void {
    this.nodeSelf[node] += value;
  }

  build(): FlameTree {
    const n = this.nodeName.length;
    const sums = Float64Array.from(this.nodeSelf);
    // Children are always created after their parent, so a reverse sweep sums totals bottom-up.
    for (let i = n - 1; i > 0; i--) sums[this.nodeParent[i]] += sums[i];
    const order: number[] = [0];
    const levelBounds: number[] = [0];
    const newX = new Map<number, number>([[0, 0]]);
    let levelBegin = 0;
    while (levelBegin < order.length) {
      const levelEnd = order.length;
      levelBounds.push(levelEnd);
      for (let k = levelBegin; k < levelEnd; k++) {
        const p = order[k];
        const m = this.kids[p];
        if (!m) continue;
        const kids = [...m.values()].filter((c) => sums[c] > 0);
        kids.sort((a, b) => cmp(this.names[this.nodeName[a]], this.names[this.nodeName[b]]));
        let x = newX.get(p) ?? 0;
        for (const c of kids) {
          order.push(c);
          newX.set(c, x);
          x += sums[c];
        }
      }
      levelBegin = levelEnd;
    }
    const count = order.length;
    const levelStart = Int32Array.from(levelBounds);
    const x = new Float64Array(count);
    const total = new Float64Array(count);
    const self = new Float64Array(count);
    const nameIdx = new Int32Array(count);
    for (const [i, node] of order.entries()) {
      x[i] = newX.get(node) ?? 0;
      total[i] = sums[node];
      self[i] = this.nodeSelf[node];
      nameIdx[i] = this.nodeName[node];
    }
    return { names: this.names, count, levelStart, x, total, self, nameIdx, ...linkLevels(levelStart, x, total) };
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
