import { closeSync, openSync, readSync } from 'node:fs';
import { LruCache } from '../lru.js';
import { mapCode, SFI_HEAD_BYTES, V8Heap, type HeapMemory, type LineEndsCache, type V8FunctionInfo, type V8Outcome } from './heap.js';
import type { V8Constants } from './constants.js';
import type { V8Process } from './process.js';

/**
 * Names V8 frames: the BPF walker records a JavaScript frame as its function's SharedFunctionInfo
 * (address, tagged); the agent reads that object from the process's memory (/proc/PID/mem) — name (a
 * string, or in a compiled function's ScopeInfo), script name (the file) and, when V8 has computed its
 * script's line ends, the line the function starts on.
 *
 * A garbage collection may move a SharedFunctionInfo and put another object where it was, so a name is
 * trusted for one interval only: in the next, the object's first words are read again (one read) and
 * the name kept only if they still say the same function (same map, same name or scope info, same
 * script; its code and flags may change as it tiers up: sameFunction()); anything
 * else is read afresh, and an address that no longer holds a SharedFunctionInfo gives no name.
 *
 * An address that held no SharedFunctionInfo is remembered too (NotFunction): the walker records such
 * words again and again (most fresh reads on a busy host were of them, two block reads each). In the next
 * interval one word, the object's map, is read and compared; only a changed map is read afresh.
 */
interface Known {
  readonly head: Buffer;
  readonly info: V8FunctionInfo | undefined;
  checked: number;
}

/**
 * An address that held no SharedFunctionInfo when last read: the code of the map word there (heap.ts
 * mapCode), which was not SharedFunctionInfo's map. V8 may put a function there later (a GC moves objects);
 * then the map word changes, and a re-check that sees any other code reads the address afresh.
 */
interface NotFunction {
  readonly map: number;
  checked: number;
}

/** Addresses without a function remembered, over all processes (≈ 70 bytes each); past it all are dropped. */
const MAX_NOT_FUNCTIONS = 4096;
/** Functions remembered, over all processes (≈ 0.3 KiB each with their strings). */
const MAX_FUNCTIONS = 8192;
/** Open /proc/PID/mem files kept between reads. */
const MAX_FILES = 32;
/** Newline offsets of script sources kept (4 bytes each: 4 MiB at most). */
const MAX_LINE_ENDS = 1 << 20;

export class V8FrameReader {
  /** By process, then SharedFunctionInfo address: a hit costs two Map lookups (no key string); past MAX_FUNCTIONS all are dropped. */
  private readonly known = new Map<number, Map<number, Known>>();
  private knownCount = 0;
  /** By process, then address: words that held no SharedFunctionInfo (NotFunction). */
  private readonly notFunctions = new Map<number, Map<number, NotFunction>>();
  private notFunctionCount = 0;
  private readonly files = new LruCache<number, number>(MAX_FILES, undefined, (_pid, fd) => closeQuietly(fd));
  private readonly sources = new LruCache<string, Int32Array>(MAX_LINE_ENDS, (ends) => 1 + ends.length);
  private interval = 0;
  /** Frames looked up, by outcome (named, not_function, read_error, no_script) and how (read, revalidated, cached). */
  readonly outcomes: Record<V8Outcome, number> = { named: 0, not_function: 0, read_error: 0, no_script: 0 };
  reads = 0;
  /** Re-checks, one read each: of functions named, and of addresses that held none (notFunctionChecks of them). */
  revalidations = 0;
  notFunctionChecks = 0;
  /** Re-checks that found another object, or none, where a function was, or another map where none was (then read afresh). */
  changed = 0;
  /** The re-check's read, overwritten each time (compared, never kept). */
  private readonly scratch = Buffer.alloc(SFI_HEAD_BYTES);
  /** The map word a not-a-function re-check reads (8 bytes of `scratch` would do, but a view per check is an allocation). */
  private readonly mapScratch = Buffer.alloc(8);
  /**
   * The process of the fresh read in progress: what `lines` and `blocks` read for. They are made once, not
   * per read: a closure made per call is a new function each time, and once the previous ones died a full
   * GC dropped V8's optimized code for it (held weakly), so it was optimized again and again (stop 31).
   */
  private pid = 0;
  /** Line ends of the current process's scripts, keyed by process too. */
  private readonly lines: LineEndsCache = {
    get: (key) => this.sources.get(`${this.pid}:${key}`),
    set: (key, ends) => this.sources.set(`${this.pid}:${key}`, ends),
  };
  /** A fresh read's blocks, the same memory for every fresh read (what one returns is copied out first). */
  private readonly blocks = new BlockArena((addr, length, into) => this.readMem(this.pid, addr, length, into));
  /**
   * Processes whose memory file did not open this interval (gone): their frames' reads fail without a
   * syscall. On a host where node processes come and go, each frame of one that exited within the interval
   * was a fresh read failing its open, twice (its block, then its word).
   */
  private readonly unopenable = new Set<number>();
  /**
   * The heap walker of the last fresh read, used again while the constants (the node build) are the same: a
   * live one keeps V8Heap's hidden class. Made per read, none lived between reads, so each full GC there (V8's
   * memory reducer, every ≈ 100 s on an idle agent) dropped the optimized code of its readers (typeOf, object,
   * objectAt: "weak objects"), compiled again at the next reads (stop 34).
   */
  private heap: { readonly constants: V8Constants; readonly walker: V8Heap } | undefined;

  constructor(
    private readonly processes: { of(pid: number): V8Process | undefined },
    private readonly procRoot = '/proc',
  ) {}

  /** Counters for the agent's metrics (kiln_agent_symbolizer{stat="v8_…"}), totals since start. */
  stats(): Record<string, number> {
    const o = this.outcomes;
    return {
      v8Named: o.named,
      v8NotFunction: o.not_function,
      v8ReadErrors: o.read_error,
      v8NoScript: o.no_script,
      v8Reads: this.reads,
      v8Revalidations: this.revalidations,
      v8Changed: this.changed,
      v8Functions: this.knownCount,
      v8NotFunctionChecks: this.notFunctionChecks,
      v8NotFunctions: this.notFunctionCount,
    };
  }

  /** A new interval: names read before are checked again before their next use. */
  nextInterval(): void {
    this.interval++;
    this.unopenable.clear();
  }

  /** A process gone: its memory file is closed and its names dropped (its memory can no longer be read to re-check them). */
  forget(pid: number): void {
    this.knownCount -= this.known.get(pid)?.size ?? 0;
    this.known.delete(pid);
    this.notFunctionCount -= this.notFunctions.get(pid)?.size ?? 0;
    this.notFunctions.delete(pid);
    this.unopenable.delete(pid);
    const fd = this.files.peek(pid);
    if (fd !== undefined) {
      this.files.delete(pid);
      closeQuietly(fd);
    }
  }

  frame(pid: number, sfi: number): V8FunctionInfo | undefined {
    const k = this.known.get(pid)?.get(sfi);
    if (k && k.checked === this.interval) return k.info;
    const none = k ? undefined : this.notFunctions.get(pid)?.get(sfi);
    if (none && none.checked === this.interval) return undefined;
    const proc = this.processes.of(pid);
    if (!proc) return k?.info;
    const c = proc.constants;
    if (k) {
      this.revalidations++;
      const head = this.readMem(pid, sfi - c.heapObjectTag, SFI_HEAD_BYTES, this.scratch);
      if (head !== undefined && sameFunction(head, k.head, c)) {
        k.checked = this.interval;
        return k.info;
      }
      this.changed++;
    } else if (none) {
      this.revalidations++;
      this.notFunctionChecks++;
      const word = this.readMem(pid, sfi - c.heapObjectTag + c.mapOffset, 8, this.mapScratch);
      if (mapCode(c, word?.readUInt32LE(0), word?.readUInt32LE(4)) === none.map) {
        none.checked = this.interval;
        return undefined;
      }
      this.changed++;
    }
    this.pid = pid;
    this.blocks.startRead();
    if (this.heap?.constants !== c) this.heap = { constants: c, walker: new V8Heap(c, this.blocks, this.lines) };
    const heap = this.heap.walker;
    this.reads++;
    const head = heap.sfiHead(sfi);
    if (head === undefined || typeof head === 'number') {
      this.outcomes.not_function++;
      this.drop(pid, sfi);
      // A map that is not SharedFunctionInfo's: remembered. A function whose head did not read: tried again at the next use.
      if (head === undefined) this.dropNotFunction(pid, sfi);
      else this.keepNotFunction(pid, sfi, head);
      return undefined;
    }
    const { outcome, info } = heap.functionOf(head);
    this.outcomes[outcome]++;
    this.dropNotFunction(pid, sfi);
    // A read that failed midway (an object being moved) is tried again at the next use.
    if (outcome === 'read_error') this.drop(pid, sfi);
    else this.keep(pid, sfi, { head: Buffer.from(head), info, checked: this.interval }); // a copy: the next fresh read reuses its block
    return info;
  }

  private keepNotFunction(pid: number, sfi: number, map: number): void {
    let perPid = this.notFunctions.get(pid);
    const kept = perPid?.get(sfi);
    if (kept) {
      perPid!.set(sfi, { map, checked: this.interval });
      return;
    }
    if (++this.notFunctionCount > MAX_NOT_FUNCTIONS) {
      // Bounded the simple way, as the functions are: each is read afresh (two block reads) when next met.
      this.notFunctions.clear();
      this.notFunctionCount = 1;
      perPid = undefined;
    }
    if (!perPid) this.notFunctions.set(pid, (perPid = new Map()));
    perPid.set(sfi, { map, checked: this.interval });
  }

  private dropNotFunction(pid: number, sfi: number): void {
    if (this.notFunctions.get(pid)?.delete(sfi)) this.notFunctionCount--;
  }

  private keep(pid: number, sfi: number, k: Known): void {
    let perPid = this.known.get(pid);
    if (!perPid?.has(sfi) && ++this.knownCount > MAX_FUNCTIONS) {
      // Bounded the simple way: everything is read again as it is met (a few reads each).
      this.known.clear();
      this.knownCount = 1;
      perPid = undefined;
    }
    if (!perPid) this.known.set(pid, (perPid = new Map()));
    perPid.set(sfi, k);
  }

  private drop(pid: number, sfi: number): void {
    if (this.known.get(pid)?.delete(sfi)) this.knownCount--;
  }

  /** `into`: a buffer of `length` bytes to read into (default: a new one). */
  private readMem(pid: number, addr: number, length: number, into?: Buffer): Buffer | undefined {
    if (!(addr > 0) || !Number.isSafeInteger(addr)) return undefined;
    let fd = this.files.get(pid);
    if (fd === undefined) {
      if (this.unopenable.has(pid)) return undefined;
      try {
        fd = openSync(`${this.procRoot}/${pid}/mem`, 'r');
      } catch {
        this.unopenable.add(pid);
        return undefined;
      }
      this.files.set(pid, fd);
    }
    const b = into ?? Buffer.allocUnsafe(length);
    try {
      return readSync(fd, b, 0, length, addr) === length ? b : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Bytes a fresh read reads at once (aligned: a block never crosses a page, so it reads whenever a word in it does). */
const BLOCK_BYTES = 256;

/** Blocks of the arena: a fresh read visits six or seven objects, and ≈ log2(lines) words of a script's line ends. */
const ARENA_BLOCKS = 32;

/**
 * A fresh read's memory in aligned blocks, each read once: its ≈ 30 small reads (a word, a map's
 * instance type, a string's length) fall mostly in the few objects it visits. The blocks live for one
 * fresh read, so what they serve is as old as that read (microseconds), as before; they are the same
 * memory from read to read (allocated once, outside node's shared Buffer pool), so nothing a read returns
 * may be kept past it (frame() copies the head it keeps; names are decoded into strings). Integers and
 * text are taken from the blocks without a Buffer view each. Past ARENA_BLOCKS blocks in one read, or
 * across a block's end, the rest is read directly.
 */
class BlockArena implements HeapMemory {
  /** `source` reads the process's memory directly (`into`: a buffer of `length` bytes to read into). */
  constructor(private readonly source: (addr: number, length: number, into?: Buffer) => Buffer | undefined) {}

  private readonly memory = Buffer.allocUnsafeSlow(ARENA_BLOCKS * BLOCK_BYTES);
  private readonly views = Array.from({ length: ARENA_BLOCKS }, (_, i) => this.memory.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
  private readonly bases = new Float64Array(ARENA_BLOCKS);
  private readonly ok = new Uint8Array(ARENA_BLOCKS);
  private used = 0;

  /** A new fresh read: the arena's blocks from the last one are forgotten. */
  startRead(): void {
    this.used = 0;
  }

  /** Where `length` bytes at `addr` are in `memory`, read into a block if need be; -1 when they must be read directly. */
  private offsetOf(addr: number, length: number): number {
    const base = addr - (addr % BLOCK_BYTES);
    if (!(addr > 0) || !Number.isSafeInteger(addr) || addr + length > base + BLOCK_BYTES) return -1;
    let i = 0;
    while (i < this.used && this.bases[i] !== base) i++;
    if (i === this.used) {
      if (i === ARENA_BLOCKS) return -1;
      this.bases[i] = base;
      this.ok[i] = this.source(base, BLOCK_BYTES, this.views[i]) !== undefined ? 1 : 0;
      this.used++;
    }
    return this.ok[i] === 1 ? i * BLOCK_BYTES + (addr - base) : -1;
  }

  bytes(addr: number, length: number): Buffer | undefined {
    const at = this.offsetOf(addr, length);
    return at >= 0 ? this.memory.subarray(at, at + length) : this.source(addr, length);
  }

  u16(addr: number): number | undefined {
    const at = this.offsetOf(addr, 2);
    return at >= 0 ? this.memory.readUInt16LE(at) : this.source(addr, 2)?.readUInt16LE(0);
  }

  u32(addr: number): number | undefined {
    const at = this.offsetOf(addr, 4);
    return at >= 0 ? this.memory.readUInt32LE(at) : this.source(addr, 4)?.readUInt32LE(0);
  }

  text(addr: number, length: number, encoding: 'latin1' | 'utf16le'): string | undefined {
    const at = this.offsetOf(addr, length);
    return at >= 0 ? this.memory.toString(encoding, at, at + length) : this.source(addr, length)?.toString(encoding);
  }
}

/**
 * Whether a SharedFunctionInfo's head read again is the function named before: same map, same name or
 * ScopeInfo (each compiled function has its own), same script. Its function data (bytecode, then
 * baseline code), feedback metadata and flags change as V8 tiers the function up or flushes its
 * bytecode: not compared, or each tier-up would read the function afresh (≈ 15 reads).
 */
function sameFunction(now: Buffer, before: Buffer, c: V8Constants): boolean {
  const name = c.sfiNameOrScopeInfo;
  const script = c.sfiScriptOrDebugInfo;
  return now.compare(before, 0, 8, 0, 8) === 0 && now.compare(before, name, name + 8, name, name + 8) === 0 && now.compare(before, script, script + 8, script, script + 8) === 0;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
