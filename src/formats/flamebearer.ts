import type { ProfileType } from '../model/profile-type.js';
import type { DiffNode } from '../query/diff.js';
import type { FlameNode } from '../query/tree.js';
import { ROOT_NAME, sortChildren } from '../query/tree.js';

/**
 * Flame trees out to Pyroscope's wire shapes:
 * - querier.v1 `FlameGraph` {names, levels[].values, total, max_self} and `FlameGraphDiff`
 *   (+ leftTicks, rightTicks), what Grafana's Pyroscope data source and Kiln's UI read;
 * - the legacy flamebearer JSON of `/pyroscope/render` and `/pyroscope/render-diff`
 *   ({version: 1, flamebearer: {names, levels, numTicks, maxSelf}, metadata, timeline, …}).
 *
 * Levels: one array per depth (level 0 = the root "total"); nodes left to right, 4 numbers each
 * [x offset, total, self, name index] (7 for a diff: [left offset, left total, left self, right offset,
 * right total, right self, name index]). x is the node's left edge in value units, delta-encoded: stored
 * as the gap since the end of the previous node on the same level. A node's children start after its
 * self (x + self), in the tree's order. Names are de-duplicated; names[0] is "total".
 * The tree should already be trimmed (trimFlameTree): encoding keeps every node it is given.
 */
export interface QuerierFlameGraph {
  names: string[];
  levels: { values: number[] }[];
  total: number;
  maxSelf: number;
}

export interface QuerierFlameGraphDiff extends QuerierFlameGraph {
  leftTicks: number;
  rightTicks: number;
}

export interface Flamebearer {
  names: string[];
  levels: number[][];
  numTicks: number;
  maxSelf: number;
}

export interface FlamebearerMetadata {
  format: 'single' | 'double';
  spyName: string;
  sampleRate: number;
  units: string;
  name: string;
}

export interface FlamebearerTimeline {
  /** Unix seconds of the first sample. */
  startTime: number;
  samples: number[];
  /** Seconds between samples. */
  durationDelta: number;
  watermarks: null;
}

/** The `/pyroscope/render` (format single) and `/pyroscope/render-diff` (format double) body. */
export interface FlamebearerProfile {
  version: 1;
  flamebearer: Flamebearer;
  metadata: FlamebearerMetadata;
  timeline: FlamebearerTimeline | null;
  groups: null;
  heatmap: null;
  leftTicks?: number;
  rightTicks?: number;
}

class NameTable {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  id(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.push(name) - 1;
      this.index.set(name, i);
    }
    return i;
  }
}

/** Subtracts from each offset the end of the previous node on its level (in place). */
function deltaEncode(level: number[], offsetAt: number, width: number, totalAt: number): void {
  let prevEnd = 0;
  for (let i = 0; i < level.length; i += width) {
    const x = level[i + offsetAt]!;
    level[i + offsetAt] = x - prevEnd;
    prevEnd = x + level[i + totalAt]!;
  }
}

function deltaDecode(level: number[], offsetAt: number, width: number, totalAt: number): void {
  let prevEnd = 0;
  for (let i = 0; i < level.length; i += width) {
    const x = level[i + offsetAt]! + prevEnd;
    level[i + offsetAt] = x;
    prevEnd = x + level[i + totalAt]!;
  }
}

/**
 * Pre-order walk without recursion (stacks can be thousands deep), handing each node with its depth
 * and absolute x; children in the order given, starting at x + self.
 */
function layout<N extends { children: readonly N[] }>(
  root: N,
  self: (n: N) => number,
  total: (n: N) => number,
  visit: (n: N, depth: number, x: number) => void,
): void {
  const todo: { n: N; depth: number; x: number }[] = [{ n: root, depth: 0, x: 0 }];
  while (todo.length > 0) {
    const { n, depth, x } = todo.pop()!;
    visit(n, depth, x);
    let cx = x + self(n);
    const kids: { n: N; depth: number; x: number }[] = [];
    for (const c of n.children) {
      kids.push({ n: c, depth: depth + 1, x: cx });
      cx += total(c);
    }
    for (let i = kids.length - 1; i >= 0; i--) todo.push(kids[i]!);
  }
}

export function toFlameGraph(root: FlameNode): QuerierFlameGraph {
  const names = new NameTable();
  names.id(ROOT_NAME);
  const levels: number[][] = [];
  let maxSelf = 0;
  layout(
    root,
    (n) => n.self,
    (n) => n.total,
    (n, depth, x) => {
      if (n.self > maxSelf) maxSelf = n.self;
      (levels[depth] ??= []).push(x, n.total, n.self, depth === 0 ? 0 : names.id(n.name));
    },
  );
  for (const l of levels) deltaEncode(l, 0, 4, 1);
  return { names: names.names, levels: levels.map((values) => ({ values })), total: root.total, maxSelf };
}

export function toFlamebearer(root: FlameNode): Flamebearer {
  const fg = toFlameGraph(root);
  return { names: fg.names, levels: fg.levels.map((l) => l.values), numTicks: fg.total, maxSelf: fg.maxSelf };
}

export function toFlameGraphDiff(root: DiffNode): QuerierFlameGraphDiff {
  const names = new NameTable();
  names.id(ROOT_NAME);
  // Left and right have their own x axes: lay each out separately, then zip per node.
  const levels: number[][] = [];
  const rightX = new Map<DiffNode, number>();
  layout(
    root,
    (n) => n.headSelf,
    (n) => n.headTotal,
    (n, _d, x) => rightX.set(n, x),
  );
  let maxSelf = 0;
  layout(
    root,
    (n) => n.baseSelf,
    (n) => n.baseTotal,
    (n, depth, x) => {
      maxSelf = Math.max(maxSelf, n.baseSelf, n.headSelf);
      (levels[depth] ??= []).push(
        x, n.baseTotal, n.baseSelf,
        rightX.get(n)!, n.headTotal, n.headSelf,
        depth === 0 ? 0 : names.id(n.name),
      );
    },
  );
  for (const l of levels) {
    deltaEncode(l, 0, 7, 1);
    deltaEncode(l, 3, 7, 4);
  }
  return {
    names: names.names,
    levels: levels.map((values) => ({ values })),
    // As Pyroscope: total is left + right, each side's own total in leftTicks / rightTicks.
    total: root.baseTotal + root.headTotal,
    maxSelf,
    leftTicks: root.baseTotal,
    rightTicks: root.headTotal,
  };
}

/**
 * Legacy metadata for a profile type. Pyroscope's render sends units "samples" for CPU, "objects" for
 * object counts, else the sample unit. Kiln's CPU values are nanoseconds, so it sets sampleRate to 1e9:
 * the legacy UI shows ticks / sampleRate as seconds, which is then exactly right.
 */
export function flamebearerMetadata(type: ProfileType, format: 'single' | 'double', spyName = 'unknown'): FlamebearerMetadata {
  let units = type.sampleUnit;
  let sampleRate = 100;
  if (['inuse_objects', 'alloc_objects', 'goroutine', 'goroutines', 'samples'].includes(type.sampleType)) units = 'objects';
  if (type.sampleType === 'cpu') units = 'samples';
  if (units === 'samples' && type.sampleUnit === 'nanoseconds') sampleRate = 1_000_000_000;
  return { format, spyName, sampleRate, units, name: type.sampleType };
}

export function toFlamebearerProfile(
  root: FlameNode,
  type: ProfileType,
  opts: { spyName?: string; timeline?: FlamebearerTimeline } = {},
): FlamebearerProfile {
  return {
    version: 1,
    flamebearer: toFlamebearer(root),
    metadata: flamebearerMetadata(type, 'single', opts.spyName),
    timeline: opts.timeline ?? null,
    groups: null,
    heatmap: null,
  };
}

export function toDiffFlamebearerProfile(root: DiffNode, type: ProfileType, opts: { spyName?: string } = {}): FlamebearerProfile {
  const fg = toFlameGraphDiff(root);
  return {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels.map((l) => l.values), numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: flamebearerMetadata(type, 'double', opts.spyName),
    timeline: null,
    groups: null,
    heatmap: null,
    leftTicks: fg.leftTicks,
    rightTicks: fg.rightTicks,
  };
}

/**
 * Decodes levels back into a tree (for tests, the CLI reading a saved flamebearer, and merging).
 * A node's parent is the node on the level above whose [x, x + total) holds the node's x.
 */
export function fromFlameGraph(fg: { names: readonly string[]; levels: readonly { values: readonly number[] }[] }): FlameNode {
  const levels = fg.levels.map((l) => l.values.slice());
  for (const l of levels) deltaDecode(l, 0, 4, 1);
  const placed: { x: number; node: FlameNode }[][] = [];
  for (let d = 0; d < levels.length; d++) {
    const l = levels[d]!;
    const row: { x: number; node: FlameNode }[] = [];
    let p = 0;
    for (let i = 0; i < l.length; i += 4) {
      const node: FlameNode = { name: d === 0 ? ROOT_NAME : fg.names[l[i + 3]!] ?? '?', total: l[i + 1]!, self: l[i + 2]!, children: [] };
      const x = l[i]!;
      row.push({ x, node });
      if (d === 0) continue;
      const parents = placed[d - 1]!;
      while (p < parents.length - 1 && parents[p]!.x + parents[p]!.node.total <= x && parents[p + 1]!.x <= x) p++;
      parents[p]?.node.children.push(node);
    }
    placed.push(row);
  }
  const root = placed[0]?.[0]?.node ?? { name: ROOT_NAME, self: 0, total: 0, children: [] };
  const sortAll = (n: FlameNode): void => {
    sortChildren(n.children);
    n.children.forEach(sortAll);
  };
  sortAll(root);
  return root;
}

export function fromFlamebearer(fb: Flamebearer): FlameNode {
  return fromFlameGraph({ names: fb.names, levels: fb.levels.map((values) => ({ values })) });
}

/** Decodes a 7-number diff back into a diff tree, placing nodes by their left (base) x. */
export function fromFlameGraphDiff(fg: { names: readonly string[]; levels: readonly { values: readonly number[] }[] }): DiffNode {
  const levels = fg.levels.map((l) => l.values.slice());
  for (const l of levels) {
    deltaDecode(l, 0, 7, 1);
    deltaDecode(l, 3, 7, 4);
  }
  const placed: { x: number; rx: number; node: DiffNode }[][] = [];
  for (let d = 0; d < levels.length; d++) {
    const l = levels[d]!;
    const row: { x: number; rx: number; node: DiffNode }[] = [];
    let p = 0;
    for (let i = 0; i < l.length; i += 7) {
      const node: DiffNode = {
        name: d === 0 ? ROOT_NAME : fg.names[l[i + 6]!] ?? '?',
        baseTotal: l[i + 1]!, baseSelf: l[i + 2]!, headTotal: l[i + 4]!, headSelf: l[i + 5]!, children: [],
      };
      const x = l[i]!;
      const rx = l[i + 3]!;
      row.push({ x, rx, node });
      if (d === 0) continue;
      const parents = placed[d - 1]!;
      // A node may be empty on one side, so a parent must contain it on both axes.
      const inside = (q: { x: number; rx: number; node: DiffNode }) =>
        within(x, node.baseTotal, q.x, q.node.baseTotal) && within(rx, node.headTotal, q.rx, q.node.headTotal);
      while (p < parents.length - 1 && !inside(parents[p]!)) p++;
      parents[p]?.node.children.push(node);
    }
    placed.push(row);
  }
  return placed[0]?.[0]?.node ?? { name: ROOT_NAME, baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0, children: [] };
}

/**
 * Whether a child starting at x lies in a parent's [start, start + width). A child empty on this side
 * (it exists only on the other) may sit right at the parent's end, so then the end counts too.
 */
function within(x: number, childWidth: number, start: number, width: number): boolean {
  return childWidth > 0 ? x >= start && x < start + width : x >= start && x <= start + width;
}

/**
 * The legacy timeline under a flame graph: one sample per step from `fromMs` (Unix seconds), zeros
 * where there is no data. Points are summed into the step their time falls in.
 */
export function toTimeline(points: readonly { timeMs: number; value: number }[], fromMs: number, toMs: number, stepSec: number): FlamebearerTimeline {
  const startSec = Math.floor(fromMs / 1000);
  const n = Math.max(0, Math.floor((Math.floor(toMs / 1000) - startSec) / stepSec));
  const samples = new Array<number>(n).fill(0);
  for (const p of points) {
    const i = Math.floor((p.timeMs / 1000 - startSec) / stepSec);
    if (i >= 0 && i < n) samples[i] += p.value;
  }
  return { startTime: startSec, samples, durationDelta: stepSec, watermarks: null };
}

/**
 * Step (seconds) for a chart over [fromMs, toMs): about 1500 points, at least 15 s, rounded to a
 * step people read easily — the resolution Pyroscope's render and Grafana pick.
 */
export function timelineStepSec(fromMs: number, toMs: number): number {
  const raw = (toMs - fromMs) / 1500 / 1000;
  if (raw <= 15) return 15;
  // Round to the nearer nice step (the midpoint between two steps decides).
  for (let i = 0; i < NICE_STEPS_SEC.length - 1; i++) {
    if (raw <= (NICE_STEPS_SEC[i]! + NICE_STEPS_SEC[i + 1]!) / 2) return NICE_STEPS_SEC[i]!;
  }
  return NICE_STEPS_SEC[NICE_STEPS_SEC.length - 1]!;
}

const NICE_STEPS_SEC = [15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800, 2592000];

/**
 * querier.v1's PROFILE_FORMAT_TREE body (SelectMergeStacktracesResponse.tree): Pyroscope's serialised
 * function-name tree. Pre-order, each node as uvarint(name length), name bytes (UTF-8),
 * uvarint(self), uvarint(number of children), its children following. The first node is a nameless
 * virtual root (our "total"). Values are int64 written as unsigned 64-bit varints, as Go does.
 */
export function toPyroscopeTree(root: FlameNode): Uint8Array {
  const out = new VarintWriter();
  const enc = new TextEncoder();
  const todo: FlameNode[] = [root];
  while (todo.length > 0) {
    const n = todo.pop()!;
    const name = n === root ? new Uint8Array(0) : enc.encode(n.name);
    out.uvarint(name.length);
    out.bytes(name);
    out.uvarint(n.self);
    out.uvarint(n.children.length);
    for (let i = n.children.length - 1; i >= 0; i--) todo.push(n.children[i]!);
  }
  return out.finish();
}

/** Reads the PROFILE_FORMAT_TREE bytes back into a tree (totals recomputed from selves). */
export function fromPyroscopeTree(bytes: Uint8Array): FlameNode {
  const dec = new TextDecoder();
  let at = 0;
  const uvarint = (): number => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated tree bytes');
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
    }
    return Number(BigInt.asIntN(64, v));
  };
  const root: FlameNode = { name: ROOT_NAME, self: 0, total: 0, children: [] };
  if (bytes.length === 0) return root;
  const parents: FlameNode[] = [];
  let first = true;
  while (first || parents.length > 0) {
    const parent = parents.pop();
    const len = uvarint();
    const name = dec.decode(bytes.subarray(at, at + len));
    at += len;
    const self = uvarint();
    const kids = uvarint();
    const node = first ? root : { name, self, total: 0, children: [] };
    node.self = self;
    if (!first) parent!.children.push(node);
    first = false;
    for (let i = 0; i < kids; i++) parents.push(node);
  }
  const totals = (n: FlameNode): number => (n.total = n.self + n.children.reduce((a, c) => a + totals(c), 0));
  totals(root);
  const sortAll = (n: FlameNode): void => {
    sortChildren(n.children);
    n.children.forEach(sortAll);
  };
  sortAll(root);
  return root;
}

class VarintWriter {
  private buf = new Uint8Array(4096);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  uvarint(v: number): void {
    this.room(10);
    if (Number.isSafeInteger(v) && v >= 0) {
      while (v >= 0x80) {
        this.buf[this.len++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.buf[this.len++] = v;
      return;
    }
    // Negative (delta profiles) or past 2^53: two's complement over 64 bits, as Go's uint64(int64).
    let b = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    while (b >= 0x80n) {
      this.buf[this.len++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.len++] = Number(b);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
