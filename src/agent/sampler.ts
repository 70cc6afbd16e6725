import { setTimeout as sleep } from 'node:timers/promises';
import { drainMap } from './bpf/drain.js';
import type { BpfCounters, BpfProfiler } from './loader.js';
import { BPF_COUNTERS, KEY_SIZE, STACK_CLASSES, STACK_KEY_SIZE } from './loader.js';
import { keepShapes } from './kept-shapes.js';
import type { RawSample, SampleKind } from './types.js';

/**
 * Each interval: flip the BPF program to the other generation, let in-flight samples finish, then read
 * and clear the generation nobody writes any more. Produces RawSamples with their stacks resolved to
 * addresses (symbolization is the next stage's job), decoded when first asked for.
 */

/** How long after a flip a BPF program may still be writing the old generation (it runs for µs). */
const FLIP_GRACE_MS = 5;
/** Rows per batch syscall; big enough that a hash bucket never overflows a batch (ENOSPC). */
const BATCH = 4096;
/** Bytes of values read per batch syscall: a class of 1 KiB values is read ≈ 1000 at a time. */
const STACK_READ_BYTES = 1 << 20;
/** The largest value: a count of the largest class, its count word then its stack. */
const LARGEST_VALUE_WORDS = Math.max(...STACK_CLASSES) + 1;
/** Rows per batch of a map whose values have `words` words. */
const stackBatch = (words: number) => Math.min(BATCH, Math.floor(STACK_READ_BYTES / (words * 8)));

export interface Collected {
  readonly samples: RawSample[];
  /** BPF counters that grew since the previous collect(). */
  readonly counterDeltas: BpfCounters;
}

export class Sampler {
  private lastCounters: BpfCounters;
  private readonly countKeys = Buffer.alloc(BATCH * KEY_SIZE);
  private readonly countKeysView = viewOf(this.countKeys);
  private readonly stackKeys = Buffer.alloc(BATCH * STACK_KEY_SIZE);
  private readonly stackKeysView = viewOf(this.stackKeys);
  /** Values of either kind of map (counts, kernel stacks), one batch at a time. */
  private readonly stackValues = Buffer.alloc(stackBatch(LARGEST_VALUE_WORDS) * LARGEST_VALUE_WORDS * 8);
  private readonly stackValuesView = viewOf(this.stackValues);
  private readonly arena = new StackArena();
  /** The drain in progress (collect()): the map's value size in words and bytes, and what it has read so far. */
  private words = 0;
  private valueBytes = 0;
  private rows: CountRow[] = [];
  private userAt: number[] = [];
  private stackAt = new Map<bigint, number>();

  constructor(private readonly bpf: BpfProfiler) {
    this.lastCounters = bpf.counters();
  }

  async collect(): Promise<Collected> {
    const old = this.bpf.generation as 0 | 1;
    this.bpf.setGeneration(old === 0 ? 1 : 0);
    await sleep(FLIP_GRACE_MS);
    const counters = this.bpf.counters();
    const counterDeltas = {} as BpfCounters;
    for (const name of BPF_COUNTERS) counterDeltas[name] = counters[name] - this.lastCounters[name];
    this.lastCounters = counters;

    const maps = this.bpf.generations[old];
    // Stacks stay as bytes: a process's stack seen before is found by its hash, depth and leaf
    // (symbolize/frame-memo.ts), and most samples never need their addresses as numbers — one BigInt
    // per frame was the largest allocation of a steady interval.
    this.arena.reset();
    // Counts before kernel stacks: a count's kernel stack was stored before the count was, so it is
    // there to be read. Each count's value holds its user stack after the count.
    const rows: CountRow[] = (this.rows = []);
    const userAt: number[] = (this.userAt = []);
    for (const { fd, words } of maps.counts) {
      this.words = words;
      this.valueBytes = (words + 1) * 8;
      drainMap(this.bpf.lib, fd, { key: KEY_SIZE, value: this.valueBytes, batch: stackBatch(words + 1) }, this.countKeys, this.stackValues, this.countRow);
    }
    // Every stored kernel stack is read and deleted, referenced or not (stacks of dropped samples too),
    // so nothing piles up across intervals.
    const stackAt: Map<bigint, number> = (this.stackAt = new Map());
    for (const { fd, words } of maps.stacks) {
      this.words = words;
      this.valueBytes = words * 8;
      drainMap(this.bpf.lib, fd, { key: STACK_KEY_SIZE, value: this.valueBytes, batch: stackBatch(words) }, this.stackKeys, this.stackValues, this.stackRow);
    }
    this.rows = [];
    this.userAt = [];
    this.stackAt = new Map();
    const stacks = this.arena.take();
    const samples: RawSample[] = new Array<RawSample>(rows.length);
    for (let i = 0; i < rows.length; i++) samples[i] = new SampledStacks(rows[i]!, stacks, userAt[i]!, storedAt(stackAt, rows[i]!.kernelStack));
    return { samples, counterDeltas };
  }

  /**
   * drainMap's callbacks: made once per sampler, not per collect(). A closure made per call is a new
   * function each interval; once the last one died, a full GC dropped V8's optimized code for it
   * (held weakly) and the next interval's closure was optimized again (stop 31: 9-11 compiles each).
   * They read the map being drained from the fields set just before each drainMap.
   */
  private readonly countRow = (keys: Buffer, _values: Buffer, i: number): void => {
    const value = this.valueBytes;
    // Through views: a Buffer's 64-bit read makes four BigInts (two halves, a shift, a sum), a view's one.
    const row = decodeRow(keys, this.countKeysView, i * KEY_SIZE, uint64AsNumber(this.stackValuesView, i * value));
    this.rows.push(row);
    this.userAt.push(row.userStack !== 0n ? this.arena.add(this.stackValuesView, i * value + 8, this.words) : -1);
  };

  private readonly stackRow = (_keys: Buffer, _values: Buffer, i: number): void => {
    this.stackAt.set(this.stackKeysView.getBigUint64(i * STACK_KEY_SIZE, true), this.arena.add(this.stackValuesView, i * this.valueBytes, this.words));
  };
}

/**
 * One interval's stored stacks, copied out of the batch buffers as they are read: each stack is its frame
 * count (one word) then its frames, leaf first. Grown as needed and kept; each interval's stacks leave in
 * one right-sized copy (take()) that the interval's samples share.
 */
export class StackArena {
  private buf = new DataView(new ArrayBuffer(64 * 1024));
  private used = 0;

  reset(): void {
    this.used = 0;
  }

  /**
   * Copies the stack stored at `off` of `values` (a value of `words` words) and returns where it now
   * starts. Word by word through views: a Buffer copy of a range makes a view object per stack.
   */
  add(values: DataView, off: number, words: number): number {
    // The count's high half is 0 (at most 127 frames) unless the value is corrupt: then it is clamped.
    const count = values.getUint32(off + 4, true) === 0 ? values.getUint32(off, true) : Infinity;
    const len = Math.min(words - 1, count);
    const bytes = (len + 1) * 8;
    if (this.used + bytes > this.buf.byteLength) {
      const bigger = new Uint8Array(Math.max(this.buf.byteLength * 2, this.used + bytes));
      bigger.set(new Uint8Array(this.buf.buffer, 0, this.used));
      this.buf = new DataView(bigger.buffer);
    }
    const at = this.used;
    this.buf.setUint32(at, len, true);
    this.buf.setUint32(at + 4, 0, true);
    for (let i = 8; i < bytes; i += 4) this.buf.setUint32(at + i, values.getUint32(off + i, true), true);
    this.used += bytes;
    return at;
  }

  take(): DataView {
    return new DataView(this.buf.buffer.slice(0, this.used));
  }
}

/** A sample as the sampler read it: its stacks' addresses are decoded when first asked for. */
export class SampledStacks implements RawSample {
  readonly pid: number;
  readonly kind: SampleKind;
  readonly comm: string;
  readonly count: number;
  readonly userStack: bigint;
  private user: bigint[] | undefined;
  private kernel: bigint[] | undefined;

  /**
   * `stacks`: the interval's stack bytes, as a view (its 64-bit reads make one BigInt each, where a
   * Buffer's make several); `userAt`/`kernelAt`: where each stack starts in it (-1: none, or not stored).
   */
  constructor(
    row: CountRow,
    private readonly stacks: DataView,
    private readonly userAt: number,
    private readonly kernelAt: number,
  ) {
    this.pid = row.pid;
    this.kind = row.kind;
    this.comm = row.comm;
    this.count = row.count;
    this.userStack = row.userStack;
  }

  get userAddrs(): bigint[] {
    return (this.user ??= framesAt(this.stacks, this.userAt));
  }

  get kernelAddrs(): bigint[] {
    return (this.kernel ??= framesAt(this.stacks, this.kernelAt));
  }

  get userDepth(): number {
    return this.userAt < 0 ? 0 : this.stacks.getUint32(this.userAt, true);
  }

  get userLeaf(): bigint | undefined {
    return this.userDepth === 0 ? undefined : frameWords.at(this.stacks, this.userAt + 8);
  }

  get kernelDepth(): number {
    return this.kernelAt < 0 ? 0 : this.stacks.getUint32(this.kernelAt, true);
  }
}

function framesAt(stacks: DataView, at: number): bigint[] {
  if (at < 0) return [];
  const addrs: bigint[] = new Array<bigint>(stacks.getUint32(at, true));
  for (let i = 0; i < addrs.length; i++) addrs[i] = frameWords.at(stacks, at + 8 + i * 8);
  return addrs;
}

/** log2 of the frame words whose BigInts are kept: 4096 (≈ 100 KiB with the BigInts). */
const KEPT_WORD_BITS = 12;

/**
 * The BigInts of frame words decoded recently, by a hash of the word (one slot each, the last word wins).
 * A stack the frame memo does not answer is decoded whole, a BigInt per frame — the sampler's largest
 * allocation left in a steady interval (stop 32's heap profile: 6.4 % of its bytes outside first-time work).
 * Its frames recur (libc, the interpreters' loops, the same functions in other stacks and other processes),
 * so most are found here and the same immutable BigInt is handed out again instead of a new one.
 */
class FrameWords {
  private readonly low = new Uint32Array(1 << KEPT_WORD_BITS);
  private readonly high = new Uint32Array(1 << KEPT_WORD_BITS);
  /** Slot i holds the BigInt of (high[i], low[i]); all start as 0n, which is the word (0, 0). */
  private readonly words: bigint[] = new Array<bigint>(1 << KEPT_WORD_BITS).fill(0n);

  /** The little-endian u64 at `off` of `view`, as a BigInt. */
  at(view: DataView, off: number): bigint {
    const low = view.getUint32(off, true);
    const high = view.getUint32(off + 4, true);
    const slot = (Math.imul(low ^ Math.imul(high, 0x85eb_ca6b), 0x9e37_79b1) >>> (32 - KEPT_WORD_BITS));
    if (this.low[slot] === low && this.high[slot] === high) return this.words[slot]!;
    const word = view.getBigUint64(off, true);
    this.low[slot] = low;
    this.high[slot] = high;
    this.words[slot] = word;
    return word;
  }
}

const frameWords = new FrameWords();

/** Frames of one stored stack of `words` words, leaf first: the first word counts them, the tail is stale. */
export function decodeStack(buf: Buffer, off: number, words: number): bigint[] {
  const len = Math.min(words - 1, Number(buf.readBigUInt64LE(off)));
  const addrs: bigint[] = new Array<bigint>(len);
  for (let i = 0; i < len; i++) addrs[i] = buf.readBigUInt64LE(off + 8 + i * 8);
  return addrs;
}

export interface CountRow {
  readonly pid: number;
  readonly kind: SampleKind;
  /** Content hash of the user stack; 0n = none. */
  readonly userStack: bigint;
  readonly kernelStack: bigint;
  readonly comm: string;
  readonly count: number;
}

/** Where a kernel stack's hash was stored in the interval's stacks (-1: none, or not stored). */
function storedAt(stackAt: Map<bigint, number>, hash: bigint): number {
  return hash !== 0n ? (stackAt.get(hash) ?? -1) : -1;
}

const viewOf = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** An unsigned 64-bit little-endian value as a number, without a BigInt (exact below 2^53: a sample count). */
function uint64AsNumber(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 0x1_0000_0000;
}

/**
 * Decodes one `struct sample_key` (profile.bpf.c) and its count; `view` covers the same bytes as `buf`.
 * Read in place: one BigInt per stack hash, the comm decoded straight from its bytes (no view object per row).
 */
export function decodeRow(buf: Buffer, view: DataView, off: number, count: number): CountRow {
  let end = off + 24;
  while (end < off + 40 && buf[end] !== 0) end++;
  return {
    pid: view.getUint32(off, true),
    kind: view.getUint32(off + 4, true) === 1 ? 'off_cpu' : 'cpu',
    userStack: view.getBigUint64(off + 8, true),
    kernelStack: view.getBigUint64(off + 16, true),
    comm: buf.toString('utf8', off + 24, end),
    count,
  };
}

// One row and one sample held for the agent's life (kept-shapes.ts): none lives between two intervals, so
// each full GC there (V8's memory reducer, every ≈ 100 s on an idle agent) freed their hidden classes and
// dropped the optimized code of SampledStacks' getters and of the symbolizer's stack(), compiled again in
// the next intervals (stop 34: ≈ 10 functions at each such GC).
keepShapes(new SampledStacks(decodeRow(Buffer.alloc(40), new DataView(new ArrayBuffer(40)), 0, 1), new DataView(new ArrayBuffer(8)), -1, -1));
