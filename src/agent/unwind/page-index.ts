import { ROW_BYTES, type UnwindTable } from './rows.js';

/**
 * A binary's table as the BPF walker reads it from `unwind_rows` (bpf/unwind.h): 8-byte slots holding
 * a header, a page index and the rows.
 *
 *   slot 0                      u32 pc of the first row, u32 pages << 5 | shift
 *   slot 1                      u32 the table's tag, u32 0: the key of its rows in the walker's per-CPU
 *                               cache of rows found (unique to one upload; 0: not cached)
 *   slots 2 … (pages + 4) / 2   page index, two u32 a slot: entry j ≤ pages is the row in force at
 *                               first pc + (j << shift); entry `pages` is the last row
 *   then                        the rows
 *
 * Without the index the walker binary-searched the whole table for every frame: up to 22 probes (19
 * for node's 372 k rows), spread over megabytes, so nearly each one a cache miss. With it, a frame
 * costs two index reads in one slot and a search among the rows of one page.
 */

/** Rows a page holds on average: the shift is the smallest with at most count / ROWS_PER_PAGE pages. */
const ROWS_PER_PAGE = 4;
const MIN_SHIFT = 4;
const MAX_SHIFT = 31;
/** Bits of the header's second word that hold the shift (bpf/unwind.h PAGE_SHIFT_BITS). */
const SHIFT_BITS = 5;
/** Slots before the page index (bpf/unwind.h HEADER_SLOTS). */
const HEADER_SLOTS = 2;

/** Where a table's parts go in its slots: what packing needs to know before writing anything. */
export interface PackedLayout {
  /** Slot count (the size of the slice in unwind_rows). */
  readonly count: number;
  readonly rows: number;
  readonly pages: number;
  readonly shift: number;
}

export interface PackedTable extends PackedLayout {
  /** Slots to copy into unwind_rows. */
  readonly slots: Buffer;
}

/** The layout of a non-empty table packed into header, page index and rows. */
export function packedLayout(table: UnwindTable): PackedLayout {
  const n = table.count;
  if (n === 0) throw new Error('an empty unwind table has nothing to pack');
  const first = table.rows.readUInt32LE(0);
  const span = table.rows.readUInt32LE((n - 1) * ROW_BYTES) - first;
  const target = Math.max(1, Math.ceil(n / ROWS_PER_PAGE));
  let shift = MIN_SHIFT;
  while (shift < MAX_SHIFT && Math.floor(span / 2 ** shift) + 1 > target) shift++;
  const pages = Math.floor(span / 2 ** shift) + 1;
  return { count: HEADER_SLOTS + indexSlotsOf(pages) + n, rows: n, pages, shift };
}

/**
 * Writes the packed table into `into` at byte `at` (layout.count slots): straight into the mapped BPF
 * array, so no packed copy is made in between. The tag is written 0 (not cached) and first, before the
 * header: a slice reused for another table must not carry a live tag while its rows change. publishTag()
 * then sets the real one once every row is in place (packTable's `tag` is for packed copies only).
 * Batched map updates (table-store.ts, without mmap) write slot 0, the header, a moment before slot 1:
 * a walk in between reads the slice's old tag, which no table has any more, so that is harmless too.
 */
export function writePacked(table: UnwindTable, layout: PackedLayout, into: Buffer, at: number): void {
  const { rows: n, pages, shift } = layout;
  publishTag(into, at, 0);
  // Words read and written through typed-array views where aligned (they always are: working memory
  // and the mapped array are page-aligned, slots 8 bytes): Buffer's checked reads and writes, one per
  // row and page, were most of packing node's 372 k rows. In host byte order, as the BPF program reads them.
  const pcs = u32View(table.rows, 0, n * 2);
  const indexAt = at + HEADER_SLOTS * ROW_BYTES;
  const index = u32View(into, indexAt, pages + 1);
  const first = rowPcAt(table.rows, pcs, 0);
  into.writeUInt32LE(first, at);
  into.writeUInt32LE(((pages << SHIFT_BITS) | shift) >>> 0, at + 4);
  into.writeUInt32LE(0, at + 12);
  const step = 2 ** shift;
  let row = 0;
  for (let j = 0; j < pages; j++) {
    const pageStart = first + j * step;
    while (row + 1 < n && rowPcAt(table.rows, pcs, row + 1) <= pageStart) row++;
    setIndexEntry(into, indexAt, index, j, row);
  }
  setIndexEntry(into, indexAt, index, pages, n - 1);
  // An odd index leaves half a slot unused: zero, as the array's fresh slots are.
  if (pages % 2 === 0) into.writeUInt32LE(0, indexAt + (pages + 1) * 4);
  table.rows.copy(into, at + (HEADER_SLOTS + indexSlotsOf(pages)) * ROW_BYTES, 0, n * ROW_BYTES);
}

// The two accessors below are module functions, not closures made per call: a closure made per table
// lost its optimized code at the next full GC once the previous table's closure had died, and was
// optimized again for each table (stop 31's compile-tail trace: 5-8 re-compiles of each).

/** Row i's pc: from the aligned view when there is one, else through the Buffer. */
function rowPcAt(rows: Buffer, pcs: Uint32Array | undefined, i: number): number {
  return pcs ? pcs[i * 2]! : rows.readUInt32LE(i * ROW_BYTES);
}

/** Writes page-index entry j: into the aligned view when there is one, else through the Buffer. */
function setIndexEntry(into: Buffer, indexAt: number, index: Uint32Array | undefined, j: number, row: number): void {
  if (index) index[j] = row;
  else into.writeUInt32LE(row, indexAt + j * 4);
}

/** Packs a non-empty table into header, page index and rows, in a buffer of its own. */
export function packTable(table: UnwindTable, tag = 0): PackedTable {
  const layout = packedLayout(table);
  const slots = Buffer.alloc(layout.count * ROW_BYTES);
  writePacked(table, layout, slots, 0);
  if (tag !== 0) publishTag(slots, 0, tag);
  return { ...layout, slots };
}

/** Where a packed table's tag lies, in bytes from its first slot (slot 1's first word). */
export const TAG_OFFSET = ROW_BYTES;

/**
 * Sets the tag of the table packed at byte `at` of `into`: a u32 (0: none) that must differ from every
 * other table the walker may have searched since it was loaded, since its cached rows are keyed by it.
 * Written last, once the header, index and rows are in place, as one ordered store: the walker reads
 * the tag before the rest (bpf/unwind.h use_table), so a walk that sees the new tag sees the new rows.
 * One that raced the upload read tag 0 and cached nothing, or the slice's old tag, which no table has
 * any more (whatever it cached then is never asked for). Before, the tag went first: a walk
 * in the middle of the upload cached the old table's rows under the new tag, and kept answering
 * with them (the reused-slice test failed in CI under load: 599 of 753 samples walked the old rows).
 */
export function publishTag(into: Buffer, at: number, tag: number): void {
  const word = u32View(into, at + TAG_OFFSET, 1);
  // Atomics.store is a sequentially consistent store: neither V8 nor the CPU moves the writes before it past it.
  if (word) Atomics.store(word, 0, tag >>> 0);
  else into.writeUInt32LE(tag >>> 0, at + TAG_OFFSET);
}

/** `words` u32 of `buf` from byte `at` as a typed array over the same memory; undefined when unaligned. */
function u32View(buf: Buffer, at: number, words: number): Uint32Array | undefined {
  const offset = buf.byteOffset + at;
  return offset % 4 === 0 ? new Uint32Array(buf.buffer, offset, words) : undefined;
}

/** Where a packed table's page index starts, in bytes from its first slot. */
export const INDEX_OFFSET = HEADER_SLOTS * ROW_BYTES;

function indexSlotsOf(pages: number): number {
  return Math.floor((pages + 2) / 2);
}

/**
 * The row in force at `vaddr` in a packed table, found the way the BPF walker finds it (index, then a
 * search within the page): -1 when none. Tests compare it with a plain search of the rows.
 */
export function findRowPacked(slots: Buffer, vaddr: number): number {
  const first = slots.readUInt32LE(0);
  const word = slots.readUInt32LE(4);
  const pages = word >>> SHIFT_BITS;
  const shift = word & ((1 << SHIFT_BITS) - 1);
  const indexSlots = Math.floor((pages + 2) / 2);
  const rows = slots.length / ROW_BYTES - HEADER_SLOTS - indexSlots;
  if (rows <= 0 || vaddr < first || vaddr > 0xffffffff) return -1;
  const page = Math.floor((vaddr - first) / 2 ** shift);
  let lo = page < pages ? slots.readUInt32LE(INDEX_OFFSET + page * 4) : rows - 1;
  let hi = (page < pages ? slots.readUInt32LE(INDEX_OFFSET + (page + 1) * 4) : rows - 1) + 1;
  if (lo >= hi || hi > rows) return -1;
  const rowsAt = (HEADER_SLOTS + indexSlots) * ROW_BYTES;
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo) >> 1);
    if (slots.readUInt32LE(rowsAt + mid * ROW_BYTES) <= vaddr) lo = mid;
    else hi = mid;
  }
  return lo;
}
