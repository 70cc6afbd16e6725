import { readdirSync, readFileSync } from 'node:fs';
import type { DictionaryBuilder, Line } from '../../model/index.js';
import type { RawSample, Symbolizer, SymbolizerStats } from '../types.js';
import { binaryInfoOf, fileOffsetToVaddr, loadSymbols, type BinaryInfo } from './binary.js';
import { KERNEL_MAPPING, KernelSymbols, type KernelFrame } from './kallsyms.js';
import { demangle } from './demangle.js';
import { FrameMemo, type KnownStack, type NativeName, type ProcessFrames, type V8Memo } from './frame-memo.js';
import { LruCache } from '../lru.js';
import { PerfMap } from './perf-map.js';
import { ProcessSnapshot } from './process-snapshot.js';
import { findMapping, isFileBacked, readMaps, readNamespacePid, readStartTime, takeMaps, type CodeMapping } from './proc-maps.js';
import { SymbolTable } from './symbol-table.js';
import { isSyscallFrame, syscallFrameName } from './syscalls.js';
import { isInterpreterFrame, pythonFrameParts } from '../python/code.js';
import { isV8Frame, v8FrameFunction } from '../v8/frames.js';
import { loadOwnVdso, VDSO_MAPPING, type VdsoImage } from './vdso.js';

export interface ProcSymbolizerOptions {
  /** Where /proc is (tests point it elsewhere). */
  readonly procRoot?: string;
  readonly kallsymsPath?: string;
  /** Minimum time between checks for new kernel symbols when a kernel address is unknown (modules load). */
  readonly kallsymsReloadMs?: number;
  /**
   * A small file that changes when kernel symbols do (default /proc/modules with the default kallsyms;
   * with another kallsymsPath, that file itself): kallsyms is re-read only when it changed.
   */
  readonly modulesPath?: string;
  /** Separate debug file roots, searched by build id and debuglink. Default: /usr/lib/debug. */
  readonly debugDirectories?: readonly string[];
  /** Bound on cached symbols summed over all cached tables (≈ 100 bytes each for C++ names: 300 000 ≈ 30 MiB). */
  readonly maxCachedSymbols?: number;
  /** Bound on cached (build id, address) → name results; past it the result cache starts over. */
  readonly maxCachedResults?: number;
  /** Bound on frames remembered per dictionary (frame-memo.ts); past it they are looked up afresh. */
  readonly maxMemoFrames?: number;
  /** A user frame without a name is looked up again at least this often (sooner when its perf map changes). */
  readonly retryUnnamedMs?: number;
  /** Bound on remembered processes (exited ones are kept until evicted so late samples symbolize). */
  readonly maxProcesses?: number;
  /** Minimum time between re-reads of a process's maps when an address falls outside them. */
  readonly mapsRefreshMs?: number;
  /** An exited process unseen this long is forgotten; a symbol table unused this long is dropped. */
  readonly idleEvictMs?: number;
  /** Names CPython frames (python/code.ts); without it they keep their code object's address. */
  readonly python?: { frame(pid: number, code: number, instr: number): InterpreterFrame | undefined };
  /** Names V8 JavaScript frames (v8/reader.ts); without it they keep their SharedFunctionInfo's address. */
  readonly v8?: { frame(pid: number, sfi: number): InterpreterFrame | undefined };
  /**
   * Told of JIT code no perf map names yet, with the process's snapshot (the agent asks a HotSpot JVM
   * to write its map: jvm/perf-maps.ts, which tells a JVM by the snapshot's mappings).
   */
  readonly onUnnamedJit?: (pid: number, process: ProcessSnapshot) => void;
}

/** Mapping name of JIT-compiled code named by a perf map. */
export const JIT_MAPPING = '[jit]';
/** Mapping name of CPython frames (read from the interpreter's frame chain in BPF). */
export const PYTHON_MAPPING = '[python]';
/** Mapping name of V8 JavaScript frames (their function read from the frame in BPF). */
export const V8_MAPPING = '[v8]';

/** A frame an interpreter's own objects name: function, file and line (0: unknown). */
export interface InterpreterFrame {
  readonly name: string;
  readonly file: string;
  readonly line: number;
}
const UNKNOWN_MAPPING = '[unknown]';
/** The lines of every unnamed frame: one array for all (never written), not a new empty one per frame. */
const NO_LINES: readonly Line[] = [];

/** Whether two reads of a V8 function give the same dictionary location (same name, file and line, or both none). */
function sameFrame(a: InterpreterFrame | undefined, b: InterpreterFrame | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.name === b.name && a.file === b.file && a.line === b.line);
}
const EMPTY_TABLE = new SymbolTable([]);
const KALLSYMS_RELOAD_MS = 60_000;
/** Re-read kallsyms this often on misses even if no module changed (BPF programs come and go too). */
const KALLSYMS_FULL_RELOAD_MS = 10 * 60_000;
const IDLE_EVICT_MS = 10 * 60_000;
/** A frame without a name is looked up again at least this often even if nothing says it may help. */
const RETRY_UNNAMED_MS = 60_000;
/** How often the idle sweep runs (it is driven by observe(), so an idle agent does no work). */
const SWEEP_EVERY_MS = 60_000;
/**
 * A new process's maps read this recently by another part of the agent (the unwinder loads a process
 * ≥ 200 ms after it starts; its first interval comes up to an interval later) are taken as they are:
 * an address they miss reads them again (refresh(), after mapsRefreshMs from when they were read).
 */
const SHARED_MAPS_MS = 15_000;

/**
 * Turns raw stack addresses into dictionary locations using only what a Linux host offers: kallsyms for
 * the kernel, /proc/PID/maps plus the ELF symbol tables of the mapped files for native code, and perf
 * maps for JIT code. Three caches keep the steady state cheap: binary headers by file identity, symbol
 * tables by build id (bounded by symbol count), and names by (build id, address).
 *
 * Addresses stored for native frames are file offsets (what `binary+0x…` shows), so the same frame has
 * the same location in every process regardless of ASLR.
 */
export class ProcSymbolizer implements Symbolizer {
  private readonly procRoot: string;
  private readonly debugDirectories: readonly string[];
  private readonly mapsRefreshMs: number;
  private readonly processes: LruCache<number, ProcessSnapshot>;
  private readonly binaries = new LruCache<string, BinaryInfo>(8192);
  private readonly tables: LruCache<string, SymbolTable>;
  /** When each cached table was last looked into, for the idle sweep. */
  private readonly tableUsedAt = new Map<string, number>();
  private readonly idleEvictMs: number;
  private sweptAt = Date.now();
  /** Names by build id, then ELF address; flushed whole when it reaches its bound (cheap, and rare). */
  private readonly results = new Map<string, Map<number, NativeName | null>>();
  /** The name object of each function met, by build id then linker name; flushed with `results`. */
  private readonly names = new Map<string, Map<string, NativeName>>();
  private resultCount = 0;
  private readonly maxCachedResults: number;
  private readonly maxMemoFrames: number;
  private kernel: KernelSymbols | undefined;
  /** Names of kernel addresses found in the current kallsyms read (misses are not kept: a module may load). */
  private readonly kernelNames = new Map<bigint, KernelFrame>();
  private kernelLoadedAt = 0;
  private kernelCheckedAt = 0;
  /** Content of the modules file when kallsyms was last read. */
  private modulesSeen = '';
  /** Location of each frame already resolved into a dictionary; dropped with the dictionary. */
  private readonly memo = new WeakMap<DictionaryBuilder, FrameMemo>();
  /** The memo of the dictionary symbolized into last (its size is a stat). */
  private lastMemo: FrameMemo | undefined;
  /** The process of the last symbolize() call: an interval's samples come grouped by process. */
  private lastProcess: ProcessSnapshot | undefined;
  /** Whether scanProcesses() has made its first pass. */
  private scanned = false;
  /** The kernel's vdso image (null: could not be read). */
  private vdso: VdsoImage | null | undefined;
  private readonly counters = { frames: 0, symbolized: 0, resultCacheHits: 0, tableLoads: 0, tableLoadErrors: 0, binaryErrors: 0, mapsReads: 0, mapsShared: 0, perfMapReads: 0, kallsymsLoads: 0, memoHits: 0, stackHits: 0, idleEvictions: 0, v8Checks: 0, v8StackMisses: 0, v8UnnamedReads: 0, v8UnnamedAfterExit: 0, v8KeptChanged: 0 };

  constructor(private readonly options: ProcSymbolizerOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.debugDirectories = options.debugDirectories ?? ['/usr/lib/debug'];
    this.mapsRefreshMs = options.mapsRefreshMs ?? 1000;
    this.processes = new LruCache(options.maxProcesses ?? 4096);
    this.tables = new LruCache(options.maxCachedSymbols ?? 300_000, (t) => t.length);
    this.maxCachedResults = options.maxCachedResults ?? 50_000;
    this.maxMemoFrames = options.maxMemoFrames ?? 100_000;
    this.idleEvictMs = options.idleEvictMs ?? IDLE_EVICT_MS;
  }

  observe(pid: number): void {
    const now = Date.now();
    if (now - this.sweptAt >= Math.min(SWEEP_EVERY_MS, this.idleEvictMs)) this.sweepIdle(now);
    const known = this.processes.get(pid);
    if (known) {
      known.seenAt = now;
      known.intervals++;
      const start = readStartTime(pid, this.procRoot);
      // Gone (start unreadable): keep the snapshot taken while it lived, so its last interval still
      // symbolizes. Same start time: the same process. Only a different start time is a reused pid.
      if (start === undefined || known.startTime === start) return;
    }
    // New pid, or a reused one (the old mappings would name the wrong code). Symbol tables load when
    // a sample first lands in a binary, which the agent asks for right after observing the pid: a
    // process maps dozens of libraries and most never appear in its stacks.
    this.snapshot(pid).seenAt = now;
  }

  /**
   * Forgets exited processes not seen for idleEvictMs (their last samples are long symbolized) and
   * drops symbol tables nobody looked into for as long: on a host where build and test processes come
   * and go, their binaries' tables would otherwise stay until the symbol bound pushes them out. The
   * (build id, address) results of a dropped table stay cached, so a hot binary rarely reloads.
   */
  private sweepIdle(now: number): void {
    this.sweptAt = now;
    const stale: number[] = [];
    for (const [pid, proc] of this.processes) {
      if (now - proc.seenAt < this.idleEvictMs) continue;
      // Long idle but alive (a daemon waiting for work): kept, or the next sample would re-read its maps.
      if (proc.startTime !== undefined && readStartTime(pid, this.procRoot) === proc.startTime) continue;
      stale.push(pid);
    }
    for (const pid of stale) this.processes.delete(pid);
    this.lastProcess = undefined;
    let dropped = stale.length;
    for (const [key, usedAt] of this.tableUsedAt) {
      if (now - usedAt < this.idleEvictMs) continue;
      this.tables.delete(key);
      this.tableUsedAt.delete(key);
      dropped++;
    }
    this.counters.idleEvictions += dropped;
  }

  stack(sample: RawSample, b: DictionaryBuilder): number {
    const { pid, userStack: hash } = sample;
    // A busy process runs the same stacks interval after interval: a stack seen before is one lookup by
    // the kernel's hash of its user frames instead of a lookup per frame and a key per stack — and its
    // user addresses need not be decoded at all (the sampler's samples know depth and leaf without
    // them). With kernel frames, those are compared too (the few kernel stacks met with that user stack).
    // A process seen only after it exited is not seen again: nothing of its stacks is worth keeping.
    const depth = sample.userDepth ?? sample.userAddrs.length;
    const kernelDepth = sample.kernelDepth ?? sample.kernelAddrs.length;
    const known = hash !== undefined && hash !== 0n && depth > 0 && this.processOf(pid).startTime !== undefined;
    const kallsyms = this.counters.kallsymsLoads;
    /** Kept, but a V8 function in it changed: resolved again and kept anew. */
    let changed = false;
    if (known) {
      const frames = this.memoOf(b).process(this.processOf(pid));
      const hit = kernelDepth === 0 ? frames.stack(hash) : frames.mixedStack(hash, sample.kernelAddrs, kallsyms);
      if (hit && hit.depth === depth && hit.leaf === (sample.userLeaf ?? sample.userAddrs[0])) {
        changed = hit.v8 !== undefined && !this.v8Stands(pid, frames, hit);
        if (!changed) {
          const c = this.counters;
          c.frames += hit.depth + kernelDepth;
          c.memoHits += hit.depth + kernelDepth;
          c.symbolized += hit.named + kernelDepth;
          c.stackHits++;
          return hit.stack;
        }
      }
    }
    const user = sample.userAddrs;
    const kernel = sample.kernelAddrs;
    const locations = this.symbolize(pid, user, kernel, b);
    const stack = b.stack(locations);
    // Kept with kernel frames only if each has a name, all from one kallsyms read (the first, or the one
    // current before this stack: a read in its middle named its frames from two).
    const read = this.counters.kallsymsLoads;
    let keep = known && (read === kallsyms || kallsyms === 0);
    for (let i = 0; keep && i < kernel.length; i++) keep = b.dict.locations[locations[i]!]!.lines.length > 0;
    if (keep) {
      let named = 0;
      let v8: bigint[] | undefined;
      let v8Locations: number[] | undefined;
      for (let i = 0; i < user.length; i++) {
        const raw = user[i]!;
        const loc = locations[kernel.length + i]!;
        const interpreter = isInterpreterFrame(raw);
        // A V8 frame's name holds for one interval (its object may move): the stack is checked through it.
        if (interpreter && isV8Frame(raw) && !v8?.includes(raw)) {
          (v8 ??= []).push(raw);
          (v8Locations ??= []).push(loc);
        }
        if (b.dict.locations[loc]!.lines.length > 0) named++;
        // A CPython frame without a name is looked up again next interval (its code object was not complete).
        else if (interpreter && !isV8Frame(raw)) keep = false;
      }
      const memo = this.memoOf(b);
      const frames = memo.process(this.processOf(pid));
      const kept: KnownStack = { stack, depth: user.length, leaf: user[0]!, named, ...(v8 && { v8, v8Locations }), ...(kernel.length > 0 && { kernel, kallsyms: read }) };
      // One with V8 or kernel frames only once met before (see ProcessFrames.seenOnce).
      if (keep && !changed && (v8 || kernel.length > 0) && !frames.metBefore(hash!)) keep = false;
      if (keep && kernel.length === 0) memo.keepStack(frames, hash!, kept);
      else if (keep) memo.keepMixedStack(frames, hash!, kept);
    }
    return stack;
  }

  /** Frames (and stacks) already resolved into `b`; dropped with it. */
  private memoOf(b: DictionaryBuilder): FrameMemo {
    let memo = this.memo.get(b);
    if (!memo) this.memo.set(b, (memo = new FrameMemo(this.maxMemoFrames, this.options.kallsymsReloadMs ?? KALLSYMS_RELOAD_MS, this.options.retryUnnamedMs ?? RETRY_UNNAMED_MS)));
    this.lastMemo = memo;
    return memo;
  }

  symbolize(pid: number, user: bigint[], kernel: bigint[], b: DictionaryBuilder): number[] {
    // Stacks share most frames (main, the runtime's loop, syscall entry), within an interval and from
    // one to the next: each distinct frame is resolved once per dictionary and then reused.
    const memo = this.memoOf(b);
    // Sized once (pushes would grow it a few times for a deep stack): filled in order, kernel frames first.
    const out = new Array<number>(kernel.length + user.length);
    let n = 0;
    if (kernel.length > 0) memo.kernelFrames(this.counters.kallsymsLoads, Date.now());
    for (let i = 0; i < kernel.length; i++) {
      const addr = kernel[i]!;
      const key = i === 0 ? -addr : addr; // a leaf is looked up at its own address, a caller one before
      let loc = memo.kernel(key);
      if (loc === undefined) {
        loc = this.kernelFrame(addr, i === 0, b);
        memo.keepKernel(key, loc, b.dict.locations[loc]!.lines.length > 0);
      } else this.countReuse(b, loc);
      out[n++] = loc;
    }
    if (user.length === 0) return out;
    const proc = this.processOf(pid);
    if (proc.startTime === undefined) return this.framesAfterExit(proc, user, out, n, b);
    const frames = memo.process(proc);
    for (let i = 0; i < user.length; i++) {
      const raw = user[i]!;
      if (isInterpreterFrame(raw)) {
        if (isV8Frame(raw)) {
          let loc = this.v8Kept(pid, proc, frames, raw)?.location;
          if (loc === undefined) {
            const read = this.v8Frame(proc, raw, b);
            // Where the reads that name nothing come from (a first sighting here; after exit and changed apart).
            if (read.frame === undefined) this.counters.v8UnnamedReads++;
            memo.keepV8(frames, raw, read);
            loc = read.location;
          } else this.countReuse(b, loc);
          out[n++] = loc;
          continue;
        }
        let loc = frames.pythonFrame(raw);
        if (loc === undefined) {
          loc = this.pythonFrame(pid, raw, b);
          memo.keepPython(frames, raw, loc, b.dict.locations[loc]!.lines.length > 0);
        } else this.countReuse(b, loc);
        out[n++] = loc;
        continue;
      }
      const addr = Number(raw);
      const key = i === 0 ? -addr - 1 : addr;
      let loc = frames.user(key);
      if (loc === undefined) {
        loc = this.userFrame(proc, raw, i === 0, b, memo);
        memo.keepUser(frames, key, loc, b.dict.locations[loc]!.lines.length > 0);
      } else this.countReuse(b, loc);
      out[n++] = loc;
    }
    return out;
  }

  /**
   * The user frames of a process first seen after it exited (most short-lived processes of a busy
   * host: 5 a second in bench/agent-overhead.ts): no maps were read, so each keeps its address in an
   * unknown mapping (CPython frames can still be named). Nothing is remembered — the pid's samples all
   * come in this interval — so they neither fill the frame memo towards its bound nor cost its upkeep.
   */
  private framesAfterExit(proc: ProcessSnapshot, user: bigint[], out: number[], n: number, b: DictionaryBuilder): number[] {
    const unknown = b.mapping(UNKNOWN_MAPPING);
    // Indexed: the array iterator of a for-of was allocated per stack here (stop 32's heap profile).
    for (let i = 0; i < user.length; i++) {
      const raw = user[i]!;
      if (isInterpreterFrame(raw) && isV8Frame(raw)) {
        const read = this.v8Frame(proc, raw, b);
        if (read.frame === undefined) this.counters.v8UnnamedAfterExit++;
        out[n++] = read.location;
      } else if (isInterpreterFrame(raw)) out[n++] = this.pythonFrame(proc.pid, raw, b);
      else {
        this.counters.frames++;
        out[n++] = b.location(unknown, raw, NO_LINES);
      }
    }
    return out;
  }

  /** The snapshot a process's frames resolve against (taken now if the pid was never observed). */
  private processOf(pid: number): ProcessSnapshot {
    if (this.lastProcess?.pid === pid) return this.lastProcess;
    return (this.lastProcess = this.processes.get(pid) ?? this.snapshot(pid));
  }

  /** A frame answered from the per-dictionary memo still counts in the hit rate. */
  private countReuse(b: DictionaryBuilder, loc: number): void {
    this.counters.frames++;
    this.counters.memoHits++;
    if (b.dict.locations[loc]!.lines.length > 0) this.counters.symbolized++;
  }

  stats(): SymbolizerStats {
    const c = this.counters;
    return {
      ...c,
      hitRate: c.frames === 0 ? 0 : c.symbolized / c.frames,
      cachedProcesses: this.processes.size,
      cachedBinaries: this.binaries.size,
      cachedSymbolTables: this.tables.size,
      cachedSymbols: this.tables.weight,
      cachedResults: this.resultCount,
      memoFrames: this.lastMemo?.size ?? 0,
      v8MemoDropped: this.lastMemo?.v8Dropped ?? 0,
      kernelSymbols: this.kernel?.size ?? 0,
    };
  }

  private kernelFrame(addr: bigint, leaf: boolean, b: DictionaryBuilder): number {
    this.counters.frames++;
    if (isSyscallFrame(addr)) {
      this.counters.symbolized++;
      return b.location(b.mapping(KERNEL_MAPPING), addr, [{ function: b.function(syscallFrameName(addr)), line: 0 }]);
    }
    let kernel = this.kernel ?? this.loadKernel();
    // Past the leaf, addresses are return addresses: the call is the instruction before.
    const at = leaf ? addr : addr - 1n;
    // The same kernel paths (syscall entry, the scheduler) are on most stacks of every interval: each
    // address is looked up (and its name decoded) once while this kallsyms read stands.
    let hit = this.kernelNames.get(at) ?? kernel.lookup(at);
    // A module loaded since kallsyms was read: read it again, at most once a minute.
    if (!hit && kernel.size > 0 && this.kernelSymbolsChanged()) {
      kernel = this.loadKernel();
      hit = kernel.lookup(at);
    }
    if (!hit) return b.location(b.mapping(KERNEL_MAPPING, kernel.buildId), addr, NO_LINES);
    if (this.kernelNames.size >= this.maxCachedResults) this.kernelNames.clear();
    this.kernelNames.set(at, hit);
    this.counters.symbolized++;
    const mapping = b.mapping(hit.mapping, hit.mapping === KERNEL_MAPPING ? kernel.buildId : '');
    return b.location(mapping, addr, [{ function: b.function(hit.name), line: 0 }]);
  }

  /**
   * Whether to re-read kallsyms for an unknown address. Reading /proc/kallsyms costs the kernel ≈ 100 ms
   * of CPU (it formats 200 000 lines), and some addresses are never in it (trampolines, gaps), so a
   * miss re-reads it only when the module list changed — checked at most once per kallsymsReloadMs —
   * or every 10 minutes regardless.
   */
  private kernelSymbolsChanged(): boolean {
    const now = Date.now();
    if (now - this.kernelCheckedAt < (this.options.kallsymsReloadMs ?? KALLSYMS_RELOAD_MS)) return false;
    this.kernelCheckedAt = now;
    return now - this.kernelLoadedAt >= KALLSYMS_FULL_RELOAD_MS || this.readModules() !== this.modulesSeen;
  }

  private readModules(): string {
    const path = this.options.modulesPath ?? (this.options.kallsymsPath ? this.options.kallsymsPath : '/proc/modules');
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return '';
    }
  }

  private loadKernel(): KernelSymbols {
    this.kernelNames.clear();
    this.modulesSeen = this.readModules();
    this.kernel = KernelSymbols.load(this.options.kallsymsPath);
    this.kernelLoadedAt = Date.now();
    this.counters.kallsymsLoads++;
    return this.kernel;
  }

  /** A CPython frame (code object + instruction, read in BPF): qualified name, file and line. */
  private pythonFrame(pid: number, raw: bigint, b: DictionaryBuilder): number {
    const { code, instr } = pythonFrameParts(raw);
    return this.interpreterFrame(PYTHON_MAPPING, code, this.options.python?.frame(pid, code, instr), b);
  }

  /**
   * A V8 JavaScript frame (its SharedFunctionInfo, read in BPF): function name, script and first line,
   * as the memo keeps it (read in the process's current interval).
   */
  private v8Frame(proc: ProcessSnapshot, raw: bigint, b: DictionaryBuilder): V8Memo {
    const sfi = v8FrameFunction(raw);
    const frame = this.options.v8?.frame(proc.pid, sfi);
    return { location: this.interpreterFrame(V8_MAPPING, sfi, frame, b), frame, checked: proc.intervals };
  }

  /**
   * A V8 frame of a live process as the memo has it, if that still holds: as kept when already checked
   * this interval; else its function is asked for again (the reader re-checks the object once an
   * interval) and the entry stands if it reads the same. One that changed is forgotten (undefined).
   */
  private v8Kept(pid: number, proc: ProcessSnapshot, frames: ProcessFrames, raw: bigint): V8Memo | undefined {
    const e = frames.v8.get(raw);
    if (e === undefined || e.checked === proc.intervals) return e;
    this.counters.v8Checks++;
    if (sameFrame(e.frame, this.options.v8?.frame(pid, v8FrameFunction(raw)))) {
      e.checked = proc.intervals;
      return e;
    }
    frames.v8.delete(raw);
    this.counters.v8KeptChanged++;
    return undefined;
  }

  /** Whether a kept stack's V8 frames all resolve as when it was kept (each checked once an interval). */
  private v8Stands(pid: number, frames: ProcessFrames, hit: KnownStack): boolean {
    const proc = this.processOf(pid);
    const raws = hit.v8!;
    for (let j = 0; j < raws.length; j++) {
      if (this.v8Kept(pid, proc, frames, raws[j]!)?.location !== hit.v8Locations![j]) {
        this.counters.v8StackMisses++;
        return false;
      }
    }
    return true;
  }

  private interpreterFrame(mapping: string, address: number, f: InterpreterFrame | undefined, b: DictionaryBuilder): number {
    this.counters.frames++;
    if (!f) return b.location(b.mapping(mapping), BigInt(address), NO_LINES);
    this.counters.symbolized++;
    return b.location(b.mapping(mapping), BigInt(address), [{ function: b.function(f.name, '', f.file), line: f.line }]);
  }

  private userFrame(proc: ProcessSnapshot, addr: bigint, leaf: boolean, b: DictionaryBuilder, memo: FrameMemo): number {
    this.counters.frames++;
    const address = Number(addr);
    const lookupAddress = leaf ? address : address - 1;
    let m = findMapping(proc.mappings, lookupAddress);
    if (!m && !proc.unmapped(lookupAddress)) {
      // Maps read again unless read within mapsRefreshMs; a miss on maps that fresh is remembered.
      if (this.refresh(proc)) m = findMapping(proc.mappings, lookupAddress);
      if (!m && Date.now() - proc.mapsReadAt < this.mapsRefreshMs) proc.noteUnmapped(lookupAddress);
    }
    if (m && isFileBacked(m)) return this.nativeFrame(proc, m, address, lookupAddress, b, memo);
    if (m && m.path === VDSO_MAPPING) return this.vdsoFrame(m, address, lookupAddress, b);
    // Anonymous executable memory (or none known): JIT code, named by the process's perf map if any.
    const name = this.jitName(proc, lookupAddress);
    if (name !== undefined) {
      this.counters.symbolized++;
      return b.location(b.mapping(JIT_MAPPING), addr, [{ function: b.function(name), line: 0 }]);
    }
    if (m && m.path === '') this.options.onUnnamedJit?.(proc.pid, proc);
    return b.location(b.mapping(m?.path || (m ? '[anon]' : UNKNOWN_MAPPING)), addr, NO_LINES);
  }

  private nativeFrame(proc: ProcessSnapshot, m: CodeMapping, address: number, lookupAddress: number, b: DictionaryBuilder, memo: FrameMemo): number {
    const fileOffset = address - m.start + m.offset;
    const bin = proc.binaryOf(m);
    // The same binary (libc, the runtime) is on the stacks of many processes: its mapping and each of
    // its functions are keyed into the dictionary once, then found by object.
    let mapping = bin ? memo.binaries.get(bin) : undefined;
    if (mapping === undefined) {
      mapping = b.mapping(m.path, bin?.buildId ?? '');
      if (bin) memo.binaries.set(bin, mapping);
    }
    // Some runtimes JIT into file-backed memory or name their embedded builtins only in the perf map.
    const native = bin ? this.nativeName(bin, lookupAddress - m.start + m.offset, proc) : undefined;
    const jit = native ? undefined : this.jitName(proc, lookupAddress);
    if (!native && jit === undefined) return b.location(mapping, BigInt(fileOffset), NO_LINES);
    this.counters.symbolized++;
    let fn = native ? memo.functions.get(native) : undefined;
    if (fn === undefined) {
      fn = native ? b.function(native.name, native.systemName) : b.function(jit!);
      if (native) memo.functions.set(native, fn);
    }
    return b.location(mapping, BigInt(fileOffset), [{ function: fn, line: 0 }]);
  }

  private vdsoFrame(m: CodeMapping, address: number, lookupAddress: number, b: DictionaryBuilder): number {
    if (this.vdso === undefined) this.vdso = loadOwnVdso() ?? null;
    const offset = address - m.start;
    const vaddr = this.vdso?.toVaddr(lookupAddress - m.start);
    const name = vaddr === undefined ? undefined : this.vdso!.table.lookup(vaddr);
    const mapping = b.mapping(VDSO_MAPPING, this.vdso?.buildId ?? '');
    if (name === undefined) return b.location(mapping, BigInt(offset), NO_LINES);
    this.counters.symbolized++;
    return b.location(mapping, BigInt(offset), [{ function: b.function(name), line: 0 }]);
  }

  private nativeName(bin: BinaryInfo, fileOffset: number, proc: ProcessSnapshot): NativeName | undefined {
    const vaddr = fileOffsetToVaddr(bin, fileOffset);
    if (vaddr === undefined) return undefined;
    // Keyed by number inside a per-binary map: no string built per frame on the hot path.
    let perBinary = this.results.get(bin.symbolsKey);
    const cached = perBinary?.get(vaddr);
    if (cached !== undefined) {
      this.counters.resultCacheHits++;
      return cached ?? undefined;
    }
    const symbol = this.table(bin, proc)?.lookup(vaddr);
    if (this.resultCount >= this.maxCachedResults) {
      this.results.clear();
      this.names.clear();
      this.resultCount = 0;
      perBinary = undefined;
    }
    let name: NativeName | undefined;
    if (symbol !== undefined) {
      // One name object per function, whatever address in it a frame has: demangled once.
      let byName = this.names.get(bin.symbolsKey);
      if (!byName) this.names.set(bin.symbolsKey, (byName = new Map()));
      name = byName.get(symbol);
      if (!name) {
        const readable = demangle(symbol);
        byName.set(symbol, (name = { name: readable, systemName: readable === symbol ? '' : symbol }));
      }
    }
    if (!perBinary) this.results.set(bin.symbolsKey, (perBinary = new Map()));
    perBinary.set(vaddr, name ?? null);
    this.resultCount++;
    return name;
  }

  private table(bin: BinaryInfo, proc: ProcessSnapshot): SymbolTable | undefined {
    this.tableUsedAt.set(bin.symbolsKey, Date.now());
    let t = this.tables.get(bin.symbolsKey);
    if (t) return t;
    try {
      t = loadSymbols(bin, { debugDirectories: this.debugDirectories, rootPrefix: proc.rootPrefix });
      this.counters.tableLoads++;
    } catch {
      // Unreadable or gone (process exited and the table was evicted): remember it as empty, or every
      // frame in this binary would retry the load.
      this.counters.tableLoadErrors++;
      t = EMPTY_TABLE;
    }
    this.tables.set(bin.symbolsKey, t);
    return t;
  }

  private jitName(proc: ProcessSnapshot, address: number): string | undefined {
    // Seen only after it exited: its /tmp is out of reach, there is no map to read.
    if (proc.startTime === undefined) return undefined;
    let name = proc.perfMap.lookup(address);
    // JITs append as they compile: on a miss, read the new tail (at most once per refresh period).
    if (name === undefined && Date.now() - proc.perfMapReadAt >= this.mapsRefreshMs) {
      proc.perfMapReadAt = Date.now();
      this.counters.perfMapReads++;
      if (proc.perfMap.refresh()) name = proc.perfMap.lookup(address);
    }
    return name;
  }

  /**
   * One pass over /proc snapshotting processes not seen yet, so one that starts and exits within an
   * interval — before the agent reads its samples and calls observe() — still symbolizes. The first
   * pass finds the long-running population and only notes it (tables load when first needed); later
   * passes find new, possibly short-lived processes and read their symbol tables at once.
   */
  scanProcesses(): void {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return;
    }
    const eager = this.scanned;
    for (const e of entries) {
      const pid = Number(e);
      if (!Number.isInteger(pid) || pid <= 0 || this.processes.has(pid)) continue;
      this.snapshot(pid, eager, true);
    }
    this.scanned = true;
  }

  /** Runs scanProcesses() every `intervalMs` until the returned function is called. */
  startProcessScan(intervalMs = 1000): () => void {
    this.scanProcesses();
    const timer = setInterval(() => this.scanProcesses(), intervalMs);
    timer.unref(); // never what keeps the agent alive
    return () => clearInterval(timer);
  }

  /** `eager`: load the symbol tables of every mapped binary now (for processes that may exit unseen). */
  private snapshot(pid: number, eager = false, skipIfNoCode = false): ProcessSnapshot {
    const rootPrefix = `${this.procRoot}/${pid}/root`;
    this.lastProcess = undefined;
    const proc = new ProcessSnapshot(pid, rootPrefix, readStartTime(pid, this.procRoot), () => new PerfMap(`${rootPrefix}/tmp/perf-${readNamespacePid(pid, this.procRoot)}.map`));
    // Gone before its samples were read (most short-lived processes of a busy host): there is nothing
    // left to read, and each failed read of maps, status and perf map would cost a thrown error.
    if (proc.startTime === undefined) {
      proc.mapsReadAt = proc.perfMapReadAt = Date.now();
      if (!skipIfNoCode) this.processes.set(pid, proc);
      return proc;
    }
    this.loadMaps(proc, eager, true);
    // Kernel threads (no code mappings) found by a scan are not worth a cache slot.
    if (skipIfNoCode && proc.mappings.length === 0) return proc;
    // A scan looks for processes that may exit before their samples are read: their perf map is read
    // now, as after exit /proc/PID/root no longer reaches the process's /tmp. Otherwise the first
    // frame in anonymous code reads it, in the same pass.
    if (eager) {
      proc.perfMapReadAt = Date.now();
      proc.perfMap.refresh();
    }
    this.processes.set(pid, proc);
    return proc;
  }

  /** Re-reads maps after a miss (new dlopen, new JIT region), throttled; false when nothing changed. */
  private refresh(proc: ProcessSnapshot): boolean {
    if (proc.startTime === undefined) return false; // seen only after it exited: nothing to re-read
    if (Date.now() - proc.mapsReadAt < this.mapsRefreshMs) return false;
    if (proc.startTime !== readStartTime(proc.pid, this.procRoot)) {
      proc.mapsReadAt = Date.now(); // exited or reused: the snapshot is all there is
      return false;
    }
    return this.loadMaps(proc);
  }

  /** `shared`: a listing another reader took of the same process lately will do (a first snapshot). */
  private loadMaps(proc: ProcessSnapshot, eager = false, shared = false): boolean {
    const start = proc.startTime;
    if (start === undefined) return false; // gone before it was first seen: nothing to read
    const recent = shared ? takeMaps(proc.pid, start, SHARED_MAPS_MS, this.procRoot) : undefined;
    proc.mapsReadAt = recent?.readAt ?? Date.now();
    const maps = recent?.mappings ?? readMaps(proc.pid, this.procRoot);
    if (!maps) return false;
    if (recent) this.counters.mapsShared++;
    else this.counters.mapsReads++;
    const binaries = new Map<CodeMapping, BinaryInfo>();
    for (const m of maps) {
      if (!isFileBacked(m)) continue;
      const bin = this.binary(proc, m, eager);
      if (bin) binaries.set(m, bin);
    }
    proc.setMappings(maps, binaries);
    return true;
  }

  /** Reads a binary's headers now, while the process (and its mount namespace) still exists. */
  private binary(proc: ProcessSnapshot, m: CodeMapping, eager: boolean): BinaryInfo | undefined {
    const identity = `${m.fileId} ${m.path}`;
    let bin = this.binaries.get(identity);
    if (bin) return bin;
    // A deleted or replaced file is only reachable through the mapping itself.
    const openPath = m.deleted ? `${this.procRoot}/${proc.pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}` : proc.rootPrefix + m.path;
    try {
      bin = binaryInfoOf(`${this.procRoot} ${identity}`, openPath, m.path, m.fileId);
    } catch {
      this.counters.binaryErrors++;
      return undefined;
    }
    this.binaries.set(identity, bin);
    // Load the table now too: once the process exits, /proc/PID/root no longer reaches the file.
    if (eager) this.table(bin, proc);
    return bin;
  }
}
