import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfProfiler } from '../../../src/agent/loader.js';
import { startUnwinding } from '../../../src/agent/unwind/index.js';
import { findRowPacked, packTable } from '../../../src/agent/unwind/page-index.js';
import { ROW_BYTES, type UnwindTable } from '../../../src/agent/unwind/rows.js';
import { TableStore } from '../../../src/agent/unwind/table-store.js';
import { requireBpf } from '../require-bpf.js';

/** A table of `n` rows whose pcs are base, base+16, … */
function table(n: number, base: number): UnwindTable {
  const rows = Buffer.alloc(n * ROW_BYTES);
  for (let i = 0; i < n; i++) {
    rows.writeUInt32LE(base + 16 * i, i * ROW_BYTES);
    rows.writeUInt32LE(i & 0xffff, i * ROW_BYTES + 4);
  }
  return { rows, count: n, unsupported: 0 };
}

/** Mappings of BPF maps in this process (the kernel names them anon_inode:bpf-map). */
const bpfMapMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('bpf-map'));

describe('unwind_rows written through a window (real eBPF, root)', () => {
  it('lands every slot where the walker reads it, and leaves no part of the array mapped', () => {
    requireBpf();
    const bpf = BpfProfiler.start({ frequencyHz: 1, stackMapSize: 64, countsMapSize: 64, unwindRows: 1 << 16 });
    try {
      const fd = bpf.mapFd('unwind_rows');
      const lib = bpf.lib;
      const before = bpfMapMappings().length;
      let windows = 0;
      const mapWindow = (offset: number, length: number) => {
        const w = lib.mmapMap(fd, length, offset);
        if (w) windows++;
        return w;
      };
      const store = new TableStore(lib, fd, bpf.unwindRows, mapWindow, lib.pageSize());
      const a = store.acquire('a', () => table(1000, 0x1000))!;
      const b = store.acquire('b', () => table(5000, 0x40000))!;
      expect((b.first * ROW_BYTES) % lib.pageSize(), 'b starts inside a page: its window begins before it').not.toBe(0);
      expect(windows, 'both tables were copied through a mapped window (not the batch-update fallback)').toBe(2);
      expect(bpfMapMappings().length, 'no window stays mapped after a table is written').toBe(before);

      // Read every slot back through the map itself, as the walker would, and compare with the packed table.
      const key = Buffer.alloc(4);
      const value = Buffer.alloc(ROW_BYTES);
      const readSlice = (first: number, count: number) => {
        const out = Buffer.alloc(count * ROW_BYTES);
        for (let i = 0; i < count; i++) {
          key.writeUInt32LE(first + i);
          expect(lib.mapLookupElem(fd, key, value)).toBe(0);
          value.copy(out, i * ROW_BYTES);
        }
        return out;
      };
      const slotsB = readSlice(b.first, b.count);
      const slotsA = readSlice(a.first, a.count);
      // Each upload has a tag of its own beside the header (the key of the walker's cache of rows found).
      const tagA = slotsA.readUInt32LE(8);
      const tagB = slotsB.readUInt32LE(8);
      expect(tagA).toBeGreaterThan(0);
      expect(tagB).not.toBe(tagA);
      expect(slotsB.equals(packTable(table(5000, 0x40000), tagB).slots)).toBe(true);
      expect(slotsA.equals(packTable(table(1000, 0x1000), tagA).slots), 'writing b left a intact').toBe(true);
      expect(findRowPacked(slotsB, 0x40000 + 16 * 4321 + 3)).toBe(4321);
    } finally {
      bpf.close();
    }
  });

  it('the agent\'s unwinding keeps no mapping of the array while it runs', () => {
    requireBpf();
    const bpf = BpfProfiler.start({ frequencyHz: 1, stackMapSize: 64, countsMapSize: 64 });
    const before = new Set(bpfMapMappings());
    const unwinding = startUnwinding(bpf, { pollMs: 60_000 });
    try {
      expect(unwinding.stats().binaries, 'its own libc is loaded at start').toBeGreaterThan(0);
      // The doorbell's ring buffer is mapped, as libbpf reads one: its consumer page read-write, its
      // producer page and data read-only. Every window of unwind_rows is read-write.
      const added = bpfMapMappings().filter((l) => !before.has(l));
      expect(added.length, `mappings added: ${added.join('; ')}`).toBe(2);
      expect(added.filter((l) => / r--s /.test(l)).length, 'one read-only mapping: the ring buffer\'s data').toBe(1);
    } finally {
      unwinding.stop();
      bpf.close();
    }
  });
});
