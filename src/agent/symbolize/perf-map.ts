import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { withWorkingMemory } from './working-memory.js';
import { lastAtOrBelow } from './sorted-search.js';

/**
 * A JIT's perf map (`/tmp/perf-PID.map`, one `START SIZE name` line per compiled function, hex, with
 * or without 0x), as written by Node `--perf-basic-prof`, Python `-X perf` and JVM perf-map agents.
 * JITs only append, so `refresh()` reads just the new tail. Code can be recompiled at an address that
 * held another function; the later line wins. HotSpot's `Compiler.perfmap` rewrites the whole file
 * instead: when the bytes before the read offset are no longer those read, the map starts over.
 */
export class PerfMap {
  private readOffset = 0;
  private partial = '';
  private starts: number[] = [];
  private ends: number[] = [];
  private names: string[] = [];
  private seqs: number[] = [];
  private pending: PerfMapEntry[] = [];
  private seq = 0;
  private maxSize = 0;
  /** The last bytes read, compared with the file at the same offset to notice a rewrite. */
  private readTail = Buffer.alloc(0);
  /** Changes whenever entries are added or the map starts over: names looked up before may be stale. */
  version = 0;
  /** Size and modification time of the file when last read ('' before a read found it). */
  private readStamp = '';

  constructor(readonly path: string) {}

  get size(): number {
    return this.starts.length + this.pending.length;
  }

  /** Reads what was appended since the last call; returns false when the file does not exist. */
  refresh(maxBytes = 64 * 1024 * 1024): boolean {
    // Most processes have no perf map: asked first, so its absence costs one access() and no thrown error.
    if (!existsSync(this.path)) return false;
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return false;
    }
    try {
      const st = fstatSync(fd);
      const size = st.size;
      this.readStamp = stampOf(st);
      if (size < this.readOffset || !this.tailUnchanged(fd)) this.reset(); // rewritten: start over
      const len = Math.min(size - this.readOffset, maxBytes);
      if (len <= 0) return true;
      // Decoded to text at once: working memory, freed on return (the tail is copied out).
      withWorkingMemory((memory) => {
        const buf = memory.bytes(len);
        const n = readSync(fd, buf, 0, len, this.readOffset);
        this.readOffset += n;
        this.readTail = Buffer.from(buf.subarray(Math.max(0, n - 64), n));
        this.ingest(this.partial + buf.toString('utf8', 0, n));
      });
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Whether the file differs from what the last refresh() saw (it appeared, grew or was rewritten): one
   * stat, no read. Lets a caller retry the addresses this map could not name only when that may help.
   */
  changedOnDisk(): boolean {
    let st: Stats | undefined;
    try {
      st = statSync(this.path, { throwIfNoEntry: false });
    } catch {
      st = undefined; // the process is gone (its /proc/PID/root with it)
    }
    return (st ? stampOf(st) : '') !== this.readStamp;
  }

  private tailUnchanged(fd: number): boolean {
    const len = this.readTail.length;
    if (len === 0) return true;
    const now = Buffer.allocUnsafe(len);
    return readSync(fd, now, 0, len, this.readOffset - len) === len && now.equals(this.readTail);
  }

  lookup(address: number): string | undefined {
    if (this.pending.length > 0) this.merge();
    const s = this.starts;
    const found = lastAtOrBelow(s, address);
    // Walk back over entries that could still contain the address; the newest containing one wins.
    let best = -1;
    for (let i = found; i >= 0 && s[i]! + this.maxSize > address; i--) {
      if (address < this.ends[i]! && (best < 0 || this.seqs[i]! > this.seqs[best]!)) best = i;
    }
    return best < 0 ? undefined : this.names[best];
  }

  private ingest(text: string): void {
    const lines = text.split('\n');
    // The writer may be mid-line: keep the unterminated tail for the next read.
    this.partial = lines.pop() ?? '';
    let added = false;
    for (const line of lines) {
      const a = line.indexOf(' ');
      const b = line.indexOf(' ', a + 1);
      if (a <= 0 || b <= a) continue;
      const start = parseInt(line.slice(0, a), 16);
      const size = parseInt(line.slice(a + 1, b), 16);
      if (!Number.isSafeInteger(start) || !(size > 0)) continue;
      this.pending.push({ start, end: start + size, name: line.slice(b + 1), seq: this.seq++ });
      if (size > this.maxSize) this.maxSize = size;
      added = true;
    }
    if (added) this.version++;
  }

  // Plain loops and a module-level comparator, no closure made per merge: a closure made per call was
  // optimized again after each full GC dropped its code (stop 31).
  private merge(): void {
    const all: PerfMapEntry[] = this.pending;
    for (let i = 0; i < this.starts.length; i++) all.push({ start: this.starts[i]!, end: this.ends[i]!, name: this.names[i]!, seq: this.seqs[i]! });
    all.sort(byStartThenSeq);
    this.pending = [];
    const n = all.length;
    this.starts = new Array<number>(n);
    this.ends = new Array<number>(n);
    this.names = new Array<string>(n);
    this.seqs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const e = all[i]!;
      this.starts[i] = e.start;
      this.ends[i] = e.end;
      this.names[i] = e.name;
      this.seqs[i] = e.seq;
    }
  }

  private reset(): void {
    this.readOffset = 0;
    this.partial = '';
    this.starts = [];
    this.ends = [];
    this.names = [];
    this.seqs = [];
    this.pending = [];
    this.maxSize = 0;
    this.readTail = Buffer.alloc(0);
    this.version++;
  }
}

interface PerfMapEntry {
  start: number;
  end: number;
  name: string;
  seq: number;
}

/** By address, and for one address in the order the lines were read (lookup picks the newest). */
function byStartThenSeq(x: PerfMapEntry, y: PerfMapEntry): number {
  return x.start - y.start || x.seq - y.seq;
}

function stampOf(st: Stats): string {
  return `${st.size} ${st.mtimeMs}`;
}
