import { ROW_BYTES, type UnwindTable } from './rows.js';

/**
 * A binary's table as the BPF walker reads it from `unwind_rows` (bpf/unwind.h): 8-byte slots holding
 * a header, a page index and the rows.
 *
 *   slot 0                  u32 pc of the first row, u32 pages << 5 | shift
 *   slots 1 … pages         page index, one slot a page: page j covers first pc + [j << shift, (j + 1) << shift).
 *                           A page where one row is in force holds that row itself; any other holds
 *                           {u32 first row, u16 count low, u8 PAGE_ROWS, u8 count high}: the rows in force
 *                           in the page, to search
 *   then                    the rows
 *
 * Without the index the walker binary-searched the whole table for every frame: up to 22 probes (19
 * for node's 372 k rows), spread over megabytes, so nearly each one a cache miss. With an index of
 * row numbers (stop 19), a frame cost an index line and a rows line, each a cold miss of 0.4–0.6 µs on
 * the loaded bench host. Pages are now small enough that most hold a single row (three quarters of
 * node's, python3.11's and libc's pages): then the index slot is the row, one line a frame.
 */

/** Index slots per row at most: the shift is the smallest with pages ≤ count · PAGES_PER_ROW. */
const PAGES_PER_ROW = 1.25;
const MIN_SHIFT = 4;
const MAX_SHIFT = 31;
/** Bits of the header's second word that hold the shift (bpf/unwind.h PAGE_SHIFT_BITS). */
const SHIFT_BITS = 5;
/** Type byte of an index slot that points at rows (bpf/unwind.h PAGE_ROWS), never a row's type. */
export const PAGE_ROWS = 0xff;

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
  const target = Math.max(1, Math.ceil(n * PAGES_PER_ROW));
  let shift = MIN_SHIFT;
  while (shift < MAX_SHIFT && Math.floor(span / 2 ** shift) + 1 > target) shift++;
  const pages = Math.floor(span / 2 ** shift) + 1;
  return { count: 1 + pages + n, rows: n, pages, shift };
}

/**
 * Writes the packed table into `into` at byte `at` (layout.count slots): straight into the mapped BPF
 * array, so no packed copy is made in between.
 */
export function writePacked(table: UnwindTable, layout: PackedLayout, into: Buffer, at: number): void {
  const { rows: n, pages, shift } = layout;
  // Words read and written through typed-array views where aligned (they always are: working memory
  // and the mapped array are page-aligned, slots 8 bytes): Buffer's checked reads and writes, one per
  // row and page, were most of packing node's 372 k rows. In host byte order, as the BPF program reads them.
  const words = u32View(table.rows, 0, n * 2);
  const word = words ? (i: number) => words[i]! : (i: number) => table.rows.readUInt32LE(i * 4);
  const index = u32View(into, at + ROW_BYTES, pages * 2);
  const setSlot = index
    ? (j: number, lo: number, hi: number) => {
        index[j * 2] = lo;
        index[j * 2 + 1] = hi;
      }
    : (j: number, lo: number, hi: number) => {
        into.writeUInt32LE(lo, at + ROW_BYTES * (1 + j));
        into.writeUInt32LE(hi, at + ROW_BYTES * (1 + j) + 4);
      };
  const first = word(0);
  into.writeUInt32LE(first, at);
  into.writeUInt32LE(((pages << SHIFT_BITS) | shift) >>> 0, at + 4);
  const step = 2 ** shift;
  let row = 0; // in force at the page's start
  let last = 0; // the last row starting in the page
  for (let j = 0; j < pages; j++) {
    const pageStart = first + j * step;
    while (row + 1 < n && word((row + 1) * 2) <= pageStart) row++;
    if (last < row) last = row;
    while (last + 1 < n && word((last + 1) * 2) < pageStart + step) last++;
    if (last === row) setSlot(j, word(row * 2), word(row * 2 + 1));
    else {
      const count = last - row + 1;
      setSlot(j, row, ((count & 0xffff) | (PAGE_ROWS << 16) | ((count >>> 16) << 24)) >>> 0);
    }
  }
  table.rows.copy(into, at + (1 + pages) * ROW_BYTES, 0, n * ROW_BYTES);
}

/** Packs a non-empty table into header, page index and rows, in a buffer of its own. */
export function packTable(table: UnwindTable): PackedTable {
  const layout = packedLayout(table);
  const slots = Buffer.alloc(layout.count * ROW_BYTES);
  writePacked(table, layout, slots, 0);
  return { ...layout, slots };
}

/** `words` u32 of `buf` from byte `at` as a typed array over the same memory; undefined when unaligned. */
function u32View(buf: Buffer, at: number, words: number): Uint32Array | undefined {
  const offset = buf.byteOffset + at;
  return offset % 4 === 0 ? new Uint32Array(buf.buffer, offset, words) : undefined;
}

/**
 * The row in force at `vaddr` in a packed table, found the way the BPF walker finds it (the page's
 * index slot, the row itself or a search among the page's rows): its number, -1 when none. A row
 * found in the index is located among the rows by its pc, and must be the same 8 bytes. Tests compare
 * it with a plain search of the rows.
 */
export function findRowPacked(slots: Buffer, vaddr: number): number {
  const first = slots.readUInt32LE(0);
  const word = slots.readUInt32LE(4);
  const pages = word >>> SHIFT_BITS;
  const shift = word & ((1 << SHIFT_BITS) - 1);
  const rows = slots.length / ROW_BYTES - 1 - pages;
  if (rows <= 0 || vaddr < first || vaddr > 0xffffffff) return -1;
  const page = Math.floor((vaddr - first) / 2 ** shift);
  const rowAt = (slot: number) => slots.subarray(slot * ROW_BYTES, (slot + 1) * ROW_BYTES);
  const rowPc = (i: number) => slots.readUInt32LE((1 + pages + i) * ROW_BYTES);
  const search = (lo: number, hi: number, pc: number) => {
    while (hi - lo > 1) {
      const mid = lo + ((hi - lo) >> 1);
      if (rowPc(mid) <= pc) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  if (page >= pages) return rows - 1;
  const entry = rowAt(1 + page);
  if (entry[6] !== PAGE_ROWS) {
    const i = search(0, rows, entry.readUInt32LE(0));
    return rowAt(1 + pages + i).equals(entry) ? i : -1;
  }
  const lo = entry.readUInt32LE(0);
  const count = entry.readUInt16LE(4) | (entry[7]! << 16);
  if (count === 0 || lo + count > rows) return -1;
  return search(lo, lo + count, vaddr);
}
