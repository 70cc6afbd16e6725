import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withElf } from '../../../src/agent/symbolize/elf.js';
import { findRowPacked, INDEX_OFFSET, packedLayout, packTable, publishTag, writePacked } from '../../../src/agent/unwind/page-index.js';
import { ROW_BYTES, unwindTableOf, type UnwindTable } from '../../../src/agent/unwind/rows.js';

/** The last row with pc ≤ vaddr, by a plain binary search over every row (what the walker did before). */
function plainSearch(t: UnwindTable, vaddr: number): number {
  let lo = 0;
  let hi = t.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (t.rows.readUInt32LE(mid * ROW_BYTES) <= vaddr) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function tableOf(pcs: number[]): UnwindTable {
  const rows = Buffer.alloc(pcs.length * ROW_BYTES);
  pcs.forEach((pc, i) => {
    rows.writeUInt32LE(pc, i * ROW_BYTES);
    rows.writeUInt32LE(i, i * ROW_BYTES + 4);
  });
  return { rows, count: pcs.length, unsupported: 0 };
}

/** Every row's pc and its neighbours, the gaps' middles, and addresses outside the table. */
function probes(t: UnwindTable): number[] {
  const out = [0];
  for (let i = 0; i < t.count; i++) {
    const pc = t.rows.readUInt32LE(i * ROW_BYTES);
    const next = i + 1 < t.count ? t.rows.readUInt32LE((i + 1) * ROW_BYTES) : pc + 100;
    out.push(pc - 1, pc, pc + 1, Math.floor((pc + next) / 2));
  }
  out.push(0xffffffff);
  return out.filter((v) => v >= 0 && v <= 0xffffffff);
}

function expectSameRows(t: UnwindTable): void {
  const packed = packTable(t);
  const wrong: string[] = [];
  for (const v of probes(t)) {
    const want = plainSearch(t, v);
    const got = findRowPacked(packed.slots, v);
    if (got !== want && wrong.length < 5) wrong.push(`0x${v.toString(16)}: row ${got}, a plain search says ${want}`);
  }
  expect(wrong).toEqual([]);
}

const SYSTEM_BINARIES = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3.11', process.execPath];

describe('page index in front of the unwind rows (what the BPF walker searches)', () => {
  it('finds the same row as a search of the whole table, for every row of libc, python3.11 and node', () => {
    for (const path of SYSTEM_BINARIES) {
      expect(existsSync(path), `${path} is missing on this machine`).toBe(true);
      const t = withElf(path, (elf) => unwindTableOf(elf));
      expect(t, `no unwind table compiled from ${path}`).toBeDefined();
      expectSameRows(t!);
    }
  });

  it('leaves few rows to search in a page and costs about a byte a row', () => {
    const t = withElf(process.execPath, (elf) => unwindTableOf(elf))!;
    const packed = packTable(t);
    // Rows between consecutive index entries: what a frame's search covers.
    const entry = (j: number) => packed.slots.readUInt32LE(INDEX_OFFSET + j * 4);
    let covered = 0;
    for (let j = 0; j < packed.pages; j++) covered += entry(j + 1) - entry(j) + 1;
    const mean = covered / packed.pages;
    console.log(`node: ${t.count} rows, ${packed.pages} pages of ${2 ** packed.shift} bytes, ${mean.toFixed(1)} rows a page on average`);
    expect(mean, 'rows searched per frame, on average over pages').toBeLessThan(8);
    expect((packed.count - t.count) * ROW_BYTES, 'bytes the header and index add').toBeLessThanOrEqual(t.count * 1.1);
  });

  it('handles a single row, rows at the ends of the 32-bit space, and addresses before the first row', () => {
    expectSameRows(tableOf([0x1000]));
    expectSameRows(tableOf([0, 0xffffffff]));
    expectSameRows(tableOf([0x10, 0x20, 0x20000000, 0x20000004, 0xfffffff0]));
    const dense = Array.from({ length: 5000 }, (_, i) => 0x400000 + i * 8 + (i % 7));
    expectSameRows(tableOf(dense));
    expect(findRowPacked(packTable(tableOf([0x1000, 0x2000])).slots, 0xfff)).toBe(-1);
  });

  it('writes the table\'s tag beside the header, where the walker keys its cache of rows found, and finds the same rows whatever the tag', () => {
    const t = tableOf(Array.from({ length: 300 }, (_, i) => 0x2000 + i * 12));
    const untagged = packTable(t).slots;
    const tagged = packTable(t, 0xfffffffe).slots;
    expect(untagged.readUInt32LE(8), 'no tag: 0, which the walker never caches').toBe(0);
    expect(tagged.readUInt32LE(8)).toBe(0xfffffffe);
    expect(tagged.readUInt32LE(12)).toBe(0);
    expect(tagged.subarray(16).equals(untagged.subarray(16)), 'index and rows do not depend on the tag').toBe(true);
    for (let v = 0x1ff0; v < 0x2000 + 300 * 12 + 8; v += 5) expect(findRowPacked(tagged, v)).toBe(findRowPacked(untagged, v));
  });

  it('packs the same slots straight into memory that held something else (a freed table\'s place in the array)', () => {
    for (const pcs of [[0x1000], [0x1000, 0x2000], Array.from({ length: 5000 }, (_, i) => 0x400000 + i * 8 + (i % 7))]) {
      const t = tableOf(pcs);
      const want = packTable(t).slots;
      const layout = packedLayout(t);
      const into = Buffer.alloc(want.length + 24, 0xab); // stale bytes everywhere
      writePacked(t, layout, into, 16);
      expect(layout.count * ROW_BYTES).toBe(want.length);
      expect(into.subarray(16, 16 + want.length).equals(want), `${pcs.length} rows: every slot as packTable writes it, the index's spare half-slot zero, the stale tag 0`).toBe(true);
      expect(into.readUInt32LE(16 + 8), 'untagged until publishTag: the walker caches nothing under a tag while rows change').toBe(0);
      publishTag(into, 16, 77);
      expect(into.subarray(16, 16 + want.length).equals(packTable(t, 77).slots), 'then tagged as packTable(…, tag) tags its copy').toBe(true);
      expect(into[15]).toBe(0xab);
      expect(into[16 + want.length]).toBe(0xab);
    }
  });

  it('packs the same bytes into memory at any alignment (typed-array views where aligned, checked reads and writes elsewhere)', () => {
    const pcs = Array.from({ length: 5000 }, (_, i) => 0x1000 + i * 24 + (i % 7) * 3);
    const table = tableOf(pcs);
    const expected = packTable(table).slots;
    const layout = packedLayout(table);
    for (const shift of [0, 1, 3, 4]) {
      const into = Buffer.alloc(layout.count * ROW_BYTES + 16);
      writePacked(table, layout, into, shift);
      expect(into.subarray(shift, shift + layout.count * ROW_BYTES).equals(expected), `written at byte ${shift}`).toBe(true);
      // Rows read from an unaligned copy of the table, too.
      const unaligned = Buffer.alloc(table.rows.length + 1).subarray(1);
      table.rows.copy(unaligned);
      const out = Buffer.alloc(layout.count * ROW_BYTES);
      writePacked({ ...table, rows: unaligned }, layout, out, 0);
      expect(out.equals(expected), 'from rows at an odd address').toBe(true);
    }
  });
});
