import type { Libbpf } from '../bpf/libbpf.js';
import { packedLayout, packTable, publishTag, TAG_OFFSET, writePacked, type PackedLayout } from './page-index.js';
import { ROW_BYTES, type UnwindTable } from './rows.js';

/**
 * The BPF `unwind_rows` array, shared by every binary: each binary's table (header, page index and
 * rows: page-index.ts) is one contiguous slice, loaded once per build id however many processes map it. When the last process using a table is
 * gone the table stays loaded, unreferenced, until its space is needed or it has been idle for
 * IDLE_MS: on a host where short-lived processes come and go (shells, scripts), freeing at once meant
 * compiling the same tables again and again — 5 s of a 30 s steady-state profile of the overhead bench.
 * Slices are placed first-fit in a free list; a table that does not fit even after evicting idle ones
 * is left out (its frames walk by frame pointer) and counted, never evicting one in use.
 */

/**
 * Maps bytes [offset, offset + length) of the array into this process (offset a multiple of the page
 * size); undefined when it cannot. The window is unmapped right after each table is copied in: a
 * mapping of the whole array (2^21 slots) kept 16 MiB in the agent's RSS for as long as it ran, since
 * the kernel maps every page of a BPF array at mmap time.
 */
export type MapWindow = (offset: number, length: number) => { readonly bytes: Buffer; unmap(): void } | undefined;

/** A table's place in the array, in 8-byte slots (header, page index, rows). */
export interface Slice {
  readonly first: number;
  readonly count: number;
}

interface Entry {
  readonly first: number;
  count: number;
  refs: number;
  /** When refs last fell to 0. */
  idleSince: number;
}

const IDLE_MS = 10 * 60_000;

const UPLOAD_CHUNK = 65_536;

export interface TableStoreStats {
  readonly binaries: number;
  /** Slots in use (rows plus each table's header and page index). */
  readonly rowsUsed: number;
  readonly rowsCapacity: number;
  /** Tables left out because the array was full. */
  readonly full: number;
  /** Loaded tables no process uses right now (kept for the next one). */
  readonly idle: number;
}

export class TableStore {
  private readonly entries = new Map<string, Entry>();
  /** Free ranges [first, count], sorted by first. */
  private free: [number, number][];
  private used = 0;
  private fullCount = 0;
  /**
   * The last table's tag (page-index.ts): one per upload, never 0, so the walker's cache of rows found
   * never answers a slice reused for another binary with the rows of the one before (2^32 uploads wrap).
   */
  private lastTag = 0;

  constructor(
    private readonly lib: Libbpf,
    private readonly fd: number,
    readonly capacity: number,
    /** Maps part of the array into this process: rows are then written with a copy, not a syscall. */
    private readonly mapWindow?: MapWindow,
    private readonly pageSize = 4096,
  ) {
    this.free = [[0, capacity]];
  }

  /**
   * The slice of the binary keyed `key` (a build id), built with `build` on first use; undefined when
   * it has no table or the array is full. Every acquire needs one release.
   */
  acquire(key: string, build: () => UnwindTable | undefined): Slice | undefined {
    // `build` may return rows in working memory (rows.ts, keep = false): freed once in the array.
    const known = this.entries.get(key);
    if (known) {
      known.refs++;
      return known.count > 0 ? known : undefined;
    }
    this.dropIdle(Date.now() - IDLE_MS, 0);
    let rows: UnwindTable | undefined;
    let layout: PackedLayout | undefined;
    try {
      rows = build();
      layout = rows && rows.count > 0 ? packedLayout(rows) : undefined;
    } catch {
      layout = undefined; // unreadable: remembered as empty, not retried for every process
    }
    const count = layout?.count ?? 0;
    let first = count > 0 ? this.allocate(count) : -1;
    if (count > 0 && first < 0) {
      this.dropIdle(Infinity, count); // make room from tables nobody uses
      first = this.allocate(count);
    }
    if (count > 0 && first < 0) this.fullCount++;
    const entry: Entry = { first: Math.max(first, 0), count: first >= 0 ? count : 0, refs: 1, idleSince: 0 };
    try {
      if (entry.count > 0 && !this.upload(entry.first, rows!, layout!)) {
        this.release0(entry);
        entry.count = 0;
      }
    } finally {
      rows?.release?.();
    }
    this.entries.set(key, entry);
    return entry.count > 0 ? entry : undefined;
  }

  /** Whether the binary's table is already loaded (or known to be absent): acquiring it costs nothing. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The slice of a binary already acquired; undefined when it has no table. */
  slice(key: string): Slice | undefined {
    const e = this.entries.get(key);
    return e && e.count > 0 ? e : undefined;
  }

  /** One user fewer; a table nobody uses stays loaded (idle) until its space is needed. */
  release(key: string): void {
    const e = this.entries.get(key);
    if (!e || --e.refs > 0) return;
    e.idleSince = Date.now();
  }

  /**
   * Frees idle tables released before `before`, least recently released first; with `need` > 0, only
   * until a free range of `need` rows exists.
   */
  private dropIdle(before: number, need: number): void {
    const idle = [...this.entries].filter(([, e]) => e.refs <= 0 && e.idleSince < before).sort((a, b) => a[1].idleSince - b[1].idleSince);
    for (const [key, e] of idle) {
      if (need > 0 && this.free.some((r) => r[1] >= need)) return;
      this.entries.delete(key);
      this.release0(e);
    }
  }

  stats(): TableStoreStats {
    let idle = 0;
    for (const e of this.entries.values()) if (e.refs <= 0) idle++;
    return { binaries: this.entries.size, rowsUsed: this.used, rowsCapacity: this.capacity, full: this.fullCount, idle };
  }

  private release0(e: Slice): void {
    if (e.count === 0) return;
    this.used -= e.count;
    this.free.push([e.first, e.count]);
    this.free.sort((a, b) => a[0] - b[0]);
    // Coalesce neighbours so large tables find room again.
    const merged: [number, number][] = [];
    for (const r of this.free) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === r[0]) last[1] += r[1];
      else merged.push([r[0], r[1]]);
    }
    this.free = merged;
  }

  private allocate(count: number): number {
    const i = this.free.findIndex((r) => r[1] >= count);
    if (i < 0) return -1;
    const r = this.free[i]!;
    const first = r[0];
    r[0] += count;
    r[1] -= count;
    if (r[1] === 0) this.free.splice(i, 1);
    this.used += count;
    return first;
  }

  /**
   * Writes the packed table into [first, first + count): packed straight into a window of the array
   * mapped for this table only, else (no mmap) packed in a buffer and written in batches of 64 k. A
   * batch write costs the kernel a copy and an update per slot: uploading rows that way took 8.7 s of
   * kernel time in a 75 s run of bench/agent-overhead.ts.
   */
  private upload(first: number, rows: UnwindTable, layout: PackedLayout): boolean {
    const start = first * ROW_BYTES;
    const bytes = layout.count * ROW_BYTES;
    const from = start - (start % this.pageSize);
    const window = this.mapWindow?.(from, Math.ceil((start + bytes - from) / this.pageSize) * this.pageSize);
    this.lastTag = (this.lastTag % 0xffffffff) + 1;
    // The tag last, in both ways (page-index.ts publishTag): the walker caches rows under it.
    if (window) {
      try {
        writePacked(rows, layout, window.bytes, start - from);
        publishTag(window.bytes, start - from, this.lastTag);
      } finally {
        window.unmap();
      }
      return true;
    }
    const table = packTable(rows);
    const countBuf = Buffer.alloc(4);
    for (let done = 0; done < table.count; done += UPLOAD_CHUNK) {
      const n = Math.min(UPLOAD_CHUNK, table.count - done);
      const keys = Buffer.alloc(n * 4);
      for (let i = 0; i < n; i++) keys.writeUInt32LE(first + done + i, i * 4);
      countBuf.writeUInt32LE(n);
      const values = table.slots.subarray(done * ROW_BYTES, (done + n) * ROW_BYTES);
      if (this.lib.mapUpdateBatch(this.fd, keys, values, countBuf) < 0) return false;
    }
    const tagKey = Buffer.alloc(4);
    tagKey.writeUInt32LE(first + TAG_OFFSET / ROW_BYTES);
    const tagSlot = Buffer.alloc(ROW_BYTES); // the tag, then a zero word
    tagSlot.writeUInt32LE(this.lastTag);
    return this.lib.mapUpdateElem(this.fd, tagKey, tagSlot, 0) === 0;
  }
}
