import type { BinaryInfo } from './binary.js';
import type { ProcessSnapshot } from './process-snapshot.js';

/** A native function name: readable (demangled) and, when different, the linker's. */
export interface NativeName {
  readonly name: string;
  readonly systemName: string;
}

/**
 * The dictionary location each frame was resolved to, kept as long as that dictionary. The agent keeps
 * its dictionary from one interval to the next (exporter-profiles.ts: KeptDictionary), so a long-lived
 * process's frames are resolved when first seen instead of every 10 s: an interval's cost grows with
 * the frames it has not seen before.
 *
 * How long an answer stands:
 * - a user frame with a name: while its process snapshot stands (a reused pid or an exec gets a new
 *   snapshot, hence a new memo), its code mappings keep their layout and its perf map is unchanged (a
 *   JIT may put new code at an address that held other code);
 * - a user frame without a name: as long, and while the process's perf map file is unchanged on disk
 *   (one stat per process and interval: a JIT may write it later, and a JVM is asked to on such a
 *   miss), at most `retryUnnamedMs` — a node process without a perf map has hundreds of unnamed JIT
 *   frames, and looking each up again every interval found nothing new;
 * - a CPython frame without a name (its code object was not complete yet): for its interval;
 * - a V8 frame: for its interval; in the next, while its function reads the same (`V8Memo`), and a
 *   stack holding V8 frames while each of them stands;
 * - a user stack with kernel frames: like a user stack, while kallsyms is the same read (kept only when
 *   every kernel frame has a name);
 * - a kernel frame: while kallsyms is the same read; one without a name is looked up again after
 *   `retryKernelMs` (the period at which a miss may re-read kallsyms).
 * Past `maxEntries` frames every lookup is forgotten and redone (the dictionary keeps its entries).
 */
export class FrameMemo {
  /** Dictionary function of each native name object (one object per function, see the symbolizer). */
  readonly functions = new Map<NativeName, number>();
  /** Dictionary mapping of each binary. */
  readonly binaries = new Map<BinaryInfo, number>();
  private readonly processes = new WeakMap<ProcessSnapshot, ProcessFrames>();
  private readonly kernelNamed = new Map<bigint, number>();
  private readonly kernelUnnamed = new Map<bigint, number>();
  private kernelUnnamedSince = 0;
  /** Which kallsyms read the kernel entries come from. */
  private kernelRead = -1;
  private entries = 0;
  /** Bumped when everything is forgotten: per-process memos of an older generation are stale. */
  private generation = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly retryKernelMs: number,
    private readonly retryUnnamedMs: number,
  ) {}

  get size(): number {
    return this.entries;
  }

  /** V8 frames forgotten because their process's memo was emptied (its code layout or perf map changed, or the bound). */
  v8Dropped = 0;

  /** The frames of one process, emptied of what no longer holds (see the class comment). */
  process(proc: ProcessSnapshot): ProcessFrames {
    let frames = this.processes.get(proc);
    if (!frames) this.processes.set(proc, (frames = new ProcessFrames()));
    const v8Before = frames.v8.size;
    frames.validate(proc, this.generation, this.retryUnnamedMs);
    this.v8Dropped += v8Before - frames.v8.size;
    return frames;
  }

  /** Starts a batch of kernel lookups: drops answers of an older kallsyms read and stale misses. */
  kernelFrames(kallsymsRead: number, now: number): void {
    if (kallsymsRead !== this.kernelRead) {
      this.kernelRead = kallsymsRead;
      this.kernelNamed.clear();
      this.kernelUnnamed.clear();
      this.kernelUnnamedSince = now;
    } else if (now - this.kernelUnnamedSince >= this.retryKernelMs) {
      this.kernelUnnamed.clear();
      this.kernelUnnamedSince = now;
    }
  }

  kernel(key: bigint): number | undefined {
    return this.kernelNamed.get(key) ?? this.kernelUnnamed.get(key);
  }

  keepKernel(key: bigint, location: number, named: boolean): void {
    (named ? this.kernelNamed : this.kernelUnnamed).set(key, location);
    this.added();
  }

  keepUser(frames: ProcessFrames, key: number, location: number, named: boolean): void {
    (named ? frames.named : frames.unnamed).set(key, location);
    this.added();
  }

  keepPython(frames: ProcessFrames, key: bigint, location: number, named: boolean): void {
    (named ? frames.python : frames.pythonUnnamed).set(key, location);
    this.added();
  }

  /** A V8 frame's location and the function it was named from (checked again each interval). */
  keepV8(frames: ProcessFrames, key: bigint, frame: V8Memo): void {
    frames.v8.set(key, frame);
    this.added();
  }

  /** A user stack, kept as long as its frames' answers stand (a CPython frame without a name: not kept). */
  keepStack(frames: ProcessFrames, hash: bigint, stack: KnownStack): void {
    (stack.named === stack.depth ? frames.stacks : frames.stacksUnnamed).set(hash, stack);
    this.added();
  }

  /**
   * A user stack with kernel frames (all named, from the kallsyms read `stack.kallsyms`), under its user
   * stack's hash beside the other kernel stacks met with it (at most MAX_KERNEL_STACKS).
   */
  keepMixedStack(frames: ProcessFrames, hash: bigint, stack: KnownStack): void {
    const kept = stack.named === stack.depth ? frames.mixed : frames.mixedUnnamed;
    const list = kept.get(hash);
    if (list === undefined) kept.set(hash, [stack]);
    else if (list.length < MAX_KERNEL_STACKS) list.push(stack);
    else return;
    this.added();
  }

  /** Counts one more remembered frame; past the bound, forgets every one. */
  private added(): void {
    if (++this.entries <= this.maxEntries) return;
    this.entries = 0;
    this.generation++;
    this.functions.clear();
    this.binaries.clear();
    this.kernelNamed.clear();
    this.kernelUnnamed.clear();
  }
}

/**
 * A dictionary stack found by the BPF program's hash of its user frames. Its depth and leaf are kept
 * to tell a 64-bit hash collision (the kernel map keys stacks by that hash, so within an interval one
 * hash is one stack; across intervals a collision would need the same process, depth and leaf).
 */
export interface KnownStack {
  readonly stack: number;
  readonly depth: number;
  readonly leaf: bigint;
  /** User frames with a name (the symbolizer's hit rate counts them; kernel frames of a kept stack all have one). */
  readonly named: number;
  /** Its kernel frames, leaf first (absent: none), and the kallsyms read that named them. */
  readonly kernel?: readonly bigint[];
  readonly kallsyms?: number;
  /**
   * Its V8 frames (their words, a function repeated once), whose names hold for an interval: the stack
   * stands while each still resolves to the location it had (an entry of `ProcessFrames.v8`, checked
   * once per interval however many stacks share it). Absent: no V8 frame.
   */
  readonly v8?: readonly bigint[];
  /** The location each of `v8` had in the stack. */
  readonly v8Locations?: readonly number[];
}

/**
 * A V8 frame resolved into the dictionary: its location, and the function read for it (undefined: no
 * name) in the interval `checked` (the process's interval count). In a later interval the reader is
 * asked again (its one 48-byte re-check) and the location stands if the function reads the same.
 */
export interface V8Memo {
  location: number;
  frame: { readonly name: string; readonly file: string; readonly line: number } | undefined;
  checked: number;
}

/**
 * One process's frames: user addresses (a leaf keyed apart from a caller), CPython frames, and whole
 * user stacks — found in one lookup instead of one per frame. A stack goes when its frames' answers
 * do: with the named frames, or, holding a frame without a name, with the unnamed ones.
 */
export class ProcessFrames {
  readonly named = new Map<number, number>();
  readonly unnamed = new Map<number, number>();
  readonly python = new Map<bigint, number>();
  readonly pythonUnnamed = new Map<bigint, number>();
  /** V8 frames by their word (the tagged SharedFunctionInfo under bit 63). */
  readonly v8 = new Map<bigint, V8Memo>();
  readonly stacks = new Map<bigint, KnownStack>();
  readonly stacksUnnamed = new Map<bigint, KnownStack>();
  /**
   * User stack hashes met once with V8 or kernel frames: such a stack is kept at its second sighting
   * (most of a node process's stacks are never seen again, and kept they would be garbage the GC copies
   * and the memo holds until its bound).
   */
  readonly seenOnce = new Set<bigint>();
  /** Stacks with kernel frames, by their user stack's hash (one user stack meets a few kernel ones). */
  readonly mixed = new Map<bigint, KnownStack[]>();
  readonly mixedUnnamed = new Map<bigint, KnownStack[]>();
  private generation = -1;
  private layout = -1;
  private perfMap = -1;
  private intervals = -1;
  /** When the unnamed frames were last forgotten. */
  private unnamedSince = 0;

  validate(proc: ProcessSnapshot, generation: number, retryUnnamedMs: number): void {
    if (generation !== this.generation || proc.layout !== this.layout || proc.perfMapVersion !== this.perfMap) {
      this.generation = generation;
      this.layout = proc.layout;
      this.perfMap = proc.perfMapVersion;
      this.named.clear();
      this.stacks.clear();
      this.mixed.clear();
      this.seenOnce.clear();
      this.python.clear();
      this.pythonUnnamed.clear();
      this.v8.clear();
      this.forgetUnnamed();
    } else if (proc.intervals !== this.intervals) {
      // A new interval: checked once per process, not per sample.
      this.pythonUnnamed.clear();
      if (this.unnamed.size > 0 && (Date.now() - this.unnamedSince >= retryUnnamedMs || proc.perfMapChanged())) this.forgetUnnamed();
    }
    this.intervals = proc.intervals;
  }

  private forgetUnnamed(): void {
    this.unnamed.clear();
    this.stacksUnnamed.clear();
    this.mixedUnnamed.clear();
    this.unnamedSince = Date.now();
  }

  user(key: number): number | undefined {
    return this.named.get(key) ?? this.unnamed.get(key);
  }

  stack(hash: bigint): KnownStack | undefined {
    return this.stacks.get(hash) ?? this.stacksUnnamed.get(hash);
  }

  /** Whether a user stack with V8 or kernel frames was met before (noting it met otherwise). */
  metBefore(hash: bigint): boolean {
    if (this.seenOnce.delete(hash)) return true;
    if (this.seenOnce.size >= MAX_SEEN_ONCE) this.seenOnce.clear();
    this.seenOnce.add(hash);
    return false;
  }

  /** A kept stack of this user stack and these kernel frames, named by kallsyms read `kallsyms`. */
  mixedStack(hash: bigint, kernel: readonly bigint[], kallsyms: number): KnownStack | undefined {
    return sameKernel(this.mixed.get(hash), kernel, kallsyms) ?? sameKernel(this.mixedUnnamed.get(hash), kernel, kallsyms);
  }

  pythonFrame(key: bigint): number | undefined {
    return this.python.get(key) ?? this.pythonUnnamed.get(key);
  }
}

/** Kernel stacks kept per user stack (a process's user stack meets a few: syscalls, page faults, interrupts). */
const MAX_KERNEL_STACKS = 8;
/** Stacks remembered as met once, per process (past it they start over). */
const MAX_SEEN_ONCE = 4096;

function sameKernel(list: readonly KnownStack[] | undefined, kernel: readonly bigint[], kallsyms: number): KnownStack | undefined {
  if (list === undefined) return undefined;
  next: for (const s of list) {
    const k = s.kernel!;
    if (k.length !== kernel.length || s.kallsyms !== kallsyms) continue;
    for (let i = 0; i < k.length; i++) if (k[i] !== kernel[i]) continue next;
    return s;
  }
  return undefined;
}
