import { closeSync, openSync, readSync } from 'node:fs';
import { LruCache } from '../lru.js';
import { SFI_HEAD_BYTES, V8Heap, type LineEndsCache, type ReadMemory, type V8FunctionInfo, type V8Outcome } from './heap.js';
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
 */
interface Known {
  readonly head: Buffer;
  readonly info: V8FunctionInfo | undefined;
  checked: number;
}

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
  private readonly files = new LruCache<number, number>(MAX_FILES, undefined, (_pid, fd) => closeQuietly(fd));
  private readonly sources = new LruCache<string, Int32Array>(MAX_LINE_ENDS, (ends) => 1 + ends.length);
  private interval = 0;
  /** Frames looked up, by outcome (named, not_function, read_error, no_script) and how (read, revalidated, cached). */
  readonly outcomes: Record<V8Outcome, number> = { named: 0, not_function: 0, read_error: 0, no_script: 0 };
  reads = 0;
  revalidations = 0;
  /** Re-checks that found another object, or none, where a function was (then read afresh). */
  changed = 0;
  /** The re-check's read, overwritten each time (compared, never kept). */
  private readonly scratch = Buffer.alloc(SFI_HEAD_BYTES);

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
    };
  }

  /** A new interval: names read before are checked again before their next use. */
  nextInterval(): void {
    this.interval++;
  }

  /** A process gone: its memory file is closed and its names dropped (its memory can no longer be read to re-check them). */
  forget(pid: number): void {
    this.knownCount -= this.known.get(pid)?.size ?? 0;
    this.known.delete(pid);
    const fd = this.files.peek(pid);
    if (fd !== undefined) {
      this.files.delete(pid);
      closeQuietly(fd);
    }
  }

  frame(pid: number, sfi: number): V8FunctionInfo | undefined {
    const k = this.known.get(pid)?.get(sfi);
    if (k && k.checked === this.interval) return k.info;
    const proc = this.processes.of(pid);
    if (!proc) return k?.info;
    if (k) {
      this.revalidations++;
      const head = this.readMem(pid, sfi - proc.constants.heapObjectTag, SFI_HEAD_BYTES, this.scratch);
      if (head !== undefined && sameFunction(head, k.head, proc.constants)) {
        k.checked = this.interval;
        return k.info;
      }
      this.changed++;
    }
    const lines: LineEndsCache = { get: (key) => this.sources.get(`${pid}:${key}`), set: (key, ends) => this.sources.set(`${pid}:${key}`, ends) };
    const heap = new V8Heap(proc.constants, inBlocks((addr, length, into) => this.readMem(pid, addr, length, into)), lines);
    this.reads++;
    const head = heap.sfiHead(sfi);
    if (!head) {
      this.outcomes.not_function++;
      this.drop(pid, sfi);
      return undefined;
    }
    const { outcome, info } = heap.functionOf(head);
    this.outcomes[outcome]++;
    // A read that failed midway (an object being moved) is tried again at the next use.
    if (outcome === 'read_error') this.drop(pid, sfi);
    else this.keep(pid, sfi, { head: Buffer.from(head), info, checked: this.interval }); // a copy: not its whole block
    return info;
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
      try {
        fd = openSync(`${this.procRoot}/${pid}/mem`, 'r');
      } catch {
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

/**
 * A fresh read's memory in aligned blocks, each read once: its ≈ 30 small reads (a word, a map's
 * instance type, a string's length) fall mostly in the few objects it visits. Lives for one fresh read,
 * so what it serves is as old as that read (microseconds), as before.
 */
function inBlocks(read: (addr: number, length: number, into?: Buffer) => Buffer | undefined): ReadMemory {
  const blocks = new Map<number, Buffer | undefined>();
  return (addr, length) => {
    const base = addr - (addr % BLOCK_BYTES);
    if (!(addr > 0) || !Number.isSafeInteger(addr) || addr + length > base + BLOCK_BYTES) return read(addr, length);
    let block = blocks.get(base);
    // Each block its own memory, not a slice of node's shared 8 KiB pool: pooled, the blocks spread the
    // heads kept from the pool (below) one or two to a pool, each pinning its 8 KiB (≈ 3 KiB per function kept).
    if (block === undefined && !blocks.has(base)) blocks.set(base, (block = read(base, BLOCK_BYTES, Buffer.allocUnsafeSlow(BLOCK_BYTES))));
    return block ? block.subarray(addr - base, addr - base + length) : read(addr, length);
  };
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
