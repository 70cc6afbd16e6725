/**
 * What one table search of the BPF walker reads from `unwind_rows` (src/agent/bpf/unwind.h find_row), by
 * construction, load-independent: the distinct 64-byte cache lines and 4 KiB pages of the 16 MiB array a search
 * touches (the page index's entries, the rows it probes, the row it returns), averaged over every row of a table
 * (a pc in the middle of each row's range, as return addresses are) and over the slice's placement in the array
 * (every 8-byte slot offset within a 4 KiB page). A hit in the walker's per-CPU row cache reads one 16-byte slot of
 * that cache instead: one line, no page of the array.
 *
 *   npx tsx bench/unwind-search-lines.ts [binary ...]   (default: libc, python3.11, this node)
 */
import { withElf } from '../src/agent/symbolize/elf.js';
import { INDEX_OFFSET, packTable } from '../src/agent/unwind/page-index.js';
import { ROW_BYTES, unwindTableOf } from '../src/agent/unwind/rows.js';

const binaries = process.argv.length > 2 ? process.argv.slice(2) : ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3.11', process.execPath];
const LINE = 64;
const PAGE = 4096;

console.log('| binary | rows | index slots | lines a search (table) | 4 KiB pages a search | slots read a search |');
console.log('|---|---|---|---|---|---|');
for (const path of binaries) {
  const t = withElf(path, (elf) => unwindTableOf(elf));
  if (!t) throw new Error(`no unwind table compiled from ${path}`);
  const packed = packTable(t, 1);
  const s = packed.slots;
  const indexSlots = Math.floor((packed.pages + 2) / 2);
  const rowsFirst = INDEX_OFFSET / ROW_BYTES + indexSlots;
  const pcFirst = s.readUInt32LE(0);
  const entry = (j: number) => s.readUInt32LE(INDEX_OFFSET + j * 4);
  const rowPc = (i: number) => s.readUInt32LE((rowsFirst + i) * ROW_BYTES);
  /** The slots (relative to the slice's first) the walker reads for one search, in its order. */
  const slotsOf = (vaddr: number): number[] => {
    const read: number[] = [];
    const page = Math.floor((vaddr - pcFirst) / 2 ** packed.shift);
    let lo = t.count - 1;
    let hi = t.count - 1;
    if (page < packed.pages) {
      read.push(INDEX_OFFSET / ROW_BYTES + (page >> 1), INDEX_OFFSET / ROW_BYTES + ((page + 1) >> 1));
      lo = entry(page);
      hi = entry(page + 1);
    }
    hi += 1;
    while (hi - lo > 1) {
      const mid = lo + ((hi - lo) >> 1);
      read.push(rowsFirst + mid);
      if (rowPc(mid) <= vaddr) lo = mid;
      else hi = mid;
    }
    read.push(rowsFirst + lo);
    return read;
  };
  let lines = 0;
  let pages = 0;
  let slotsRead = 0;
  let searches = 0;
  for (let i = 0; i < t.count; i++) {
    const pc = rowPc(i);
    const next = i + 1 < t.count ? rowPc(i + 1) : pc + 2;
    if (next <= pc) continue;
    const read = slotsOf(pc + Math.floor((next - pc) / 2));
    slotsRead += read.length;
    // Placements of the slice: its first slot at every 8-byte offset of a page (the array is page-aligned).
    for (let at = 0; at < PAGE; at += 8 * 17) {
      lines += new Set(read.map((slot) => Math.floor((at + slot * ROW_BYTES) / LINE))).size;
      pages += new Set(read.map((slot) => Math.floor((at + slot * ROW_BYTES) / PAGE))).size;
    }
    searches++;
  }
  const placements = Math.ceil(PAGE / (8 * 17));
  const per = (n: number) => (n / searches / placements).toFixed(2);
  console.log(`| ${path} | ${t.count} | ${indexSlots} | ${per(lines)} | ${per(pages)} | ${(slotsRead / searches).toFixed(2)} |`);
}
