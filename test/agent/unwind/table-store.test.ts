import { describe, expect, it } from 'vitest';
import type { Libbpf } from '../../../src/agent/bpf/libbpf.js';
import { packTable } from '../../../src/agent/unwind/page-index.js';
import { ROW_BYTES, type UnwindTable } from '../../../src/agent/unwind/rows.js';
import { TableStore } from '../../../src/agent/unwind/table-store.js';

/** A stand-in for the BPF array: records every slot written (its first word), by index and in order. */
function recordingArray(): { lib: Libbpf; rows: Map<number, number>; writes: [number, number][] } {
  const rows = new Map<number, number>();
  const writes: [number, number][] = [];
  const write = (key: number, word: number) => {
    rows.set(key, word);
    writes.push([key, word]);
  };
  const lib = {
    mapUpdateBatch(_fd: number, keys: Buffer, values: Buffer, count: Buffer) {
      for (let i = 0; i < count.readUInt32LE(); i++) write(keys.readUInt32LE(i * 4), values.readUInt32LE(i * ROW_BYTES));
      return 0;
    },
    mapUpdateElem(_fd: number, key: Buffer, value: Buffer) {
      write(key.readUInt32LE(0), value.readUInt32LE(0));
      return 0;
    },
  } as unknown as Libbpf;
  return { lib, rows, writes };
}

/** A table of `n` rows whose pcs are base, base+1, … */
function table(n: number, base: number): UnwindTable {
  const rows = Buffer.alloc(n * ROW_BYTES);
  for (let i = 0; i < n; i++) rows.writeUInt32LE(base + i, i * ROW_BYTES);
  return { rows, count: n, unsupported: 0 };
}

/** Slots a table of `n` rows takes in the array: header, page index, rows. */
const slots = (n: number) => packTable(table(n, 0)).count;

describe('TableStore', () => {
  it('loads a binary once however many processes map it, and keeps it (idle) after the last one', () => {
    const { lib, rows } = recordingArray();
    const store = new TableStore(lib, 3, 100);
    let builds = 0;
    const build = () => (builds++, table(10, 1000));
    const a = store.acquire('build-id-a', build);
    const again = store.acquire('build-id-a', build);
    expect(builds).toBe(1);
    expect(again).toEqual(a);
    expect(a!.count, 'header, page index and the 10 rows').toBe(slots(10));
    expect(rows.get(a!.first), 'the header starts with the first row\'s pc').toBe(1000);
    expect(rows.get(a!.first + a!.count - 10)).toBe(1000);
    expect(rows.get(a!.first + a!.count - 1)).toBe(1009);
    expect(store.stats()).toMatchObject({ binaries: 1, rowsUsed: slots(10) });
    store.release('build-id-a');
    expect(store.stats().rowsUsed).toBe(slots(10));
    store.release('build-id-a');
    // Unused now, but still loaded: the next short-lived process of that binary does not compile it again.
    expect(store.stats()).toMatchObject({ binaries: 1, rowsUsed: slots(10), idle: 1 });
    expect(store.acquire('build-id-a', build)).toEqual(a);
    expect(builds).toBe(1);
  });

  it('makes room from idle tables, and leaves out (and counts) a table that does not fit beside those in use', () => {
    const { lib } = recordingArray();
    const store = new TableStore(lib, 3, slots(60) + slots(40));
    const a = store.acquire('a', () => table(60, 0))!;
    const b = store.acquire('b', () => table(40, 0))!;
    expect(b.first).toBe(a.first + slots(60));
    expect(store.acquire('c', () => table(1, 0)), 'the array is full of tables in use').toBeUndefined();
    expect(store.stats().full).toBe(1);
    store.release('a');
    const d = store.acquire('d', () => table(50, 0))!;
    expect(d.first, 'first fit in the space the idle table a gave up').toBe(a.first);
    expect(store.has('a'), 'evicted to make room').toBe(false);
    store.release('b');
    store.release('d');
    expect(slots(100)).toBeLessThanOrEqual(slots(60) + slots(40));
    expect(store.acquire('e', () => table(100, 0)), 'idle neighbours freed and coalesced into one range').toMatchObject({ first: 0, count: slots(100) });
  });

  it('writes rows through a window of the array mapped for that table only, unmapped right after', () => {
    const lib = {
      mapUpdateBatch() {
        throw new Error('a mappable array must not be written with bpf_map_update_batch');
      },
    } as unknown as Libbpf;
    const PAGE = 64;
    const array = Buffer.alloc(100 * ROW_BYTES);
    const windows: { offset: number; length: number; unmapped: boolean }[] = [];
    const mapWindow = (offset: number, length: number) => {
      const w = { offset, length, unmapped: false };
      windows.push(w);
      return { bytes: array.subarray(offset, offset + length), unmap: () => void (w.unmapped = true) };
    };
    const store = new TableStore(lib, 3, 100, mapWindow, PAGE);
    store.acquire('x', () => table(6, 70)); // 9 slots: the next table starts inside a page
    const s = store.acquire('y', () => table(3, 500))!;
    expect(s.first * ROW_BYTES % PAGE, 'the second table starts inside a page').not.toBe(0);
    expect(array.readUInt32LE(s.first * ROW_BYTES)).toBe(500);
    expect(array.readUInt32LE((s.first + s.count - 1) * ROW_BYTES)).toBe(502);
    expect(array.readUInt32LE(0), 'the first table is untouched by the second one\'s window').toBe(70);
    expect(windows.map((w) => w.unmapped), 'nothing stays mapped').toEqual([true, true]);
    for (const w of windows) {
      expect(w.offset % PAGE).toBe(0);
      expect(w.length % PAGE).toBe(0);
    }
    expect(windows[1]).toMatchObject({ offset: Math.floor((s.first * ROW_BYTES) / PAGE) * PAGE });
    expect(windows[1]!.offset + windows[1]!.length).toBeGreaterThanOrEqual((s.first + s.count) * ROW_BYTES);
  });

  it('tags each upload apart, so a slice freed and reused for another binary never carries the tag of the one before', () => {
    const array = Buffer.alloc(200 * ROW_BYTES);
    const mapWindow = (offset: number, length: number) => ({ bytes: array.subarray(offset, offset + length), unmap: () => {} });
    const store = new TableStore({} as Libbpf, 3, slots(50), mapWindow, 64);
    const tagAt = (first: number) => array.readUInt32LE(first * ROW_BYTES + 8);
    const a = store.acquire('a', () => table(50, 0x1000))!;
    const tagA = tagAt(a.first);
    expect(tagA, 'tag 0 means "not cached" to the walker').not.toBe(0);
    store.release('a');
    const b = store.acquire('b', () => table(50, 0x1000))!; // same size, same pcs: only the tag tells them apart
    expect(b.first, 'b took a\'s place').toBe(a.first);
    expect(store.has('a')).toBe(false);
    const tagB = tagAt(b.first);
    expect(tagB).not.toBe(0);
    expect(tagB).not.toBe(tagA);
    store.release('b');
    const a2 = store.acquire('a', () => table(50, 0x1000))!;
    expect(a2.first).toBe(a.first);
    expect(new Set([tagA, tagB, tagAt(a2.first)]).size, 'a loaded again is a new upload with a new tag').toBe(3);
  });

  it('tags the rows written by batched map updates too, the tag last: a walk caches rows under it', () => {
    const { lib, rows, writes } = recordingArray();
    const store = new TableStore(lib, 3, 100, () => undefined);
    const s = store.acquire('t', () => table(4, 900))!;
    const tag = rows.get(s.first + 1)!;
    expect(tag, 'the tag slot (its first word)').toBeGreaterThan(0);
    const tagWrites = writes.flatMap(([key, word], i) => (key === s.first + 1 ? [{ i, word }] : []));
    expect(tagWrites[0], 'the slot goes untagged (0, not cached) before any row is written').toEqual({ i: 1, word: 0 });
    expect(tagWrites.at(-1), 'tagged by the very last write, once every row is in place').toEqual({ i: writes.length - 1, word: tag });
    expect(writes.length).toBe(s.count + 1);
  });

  it('falls back to batched map updates when the array cannot be mapped', () => {
    const { lib, rows } = recordingArray();
    const store = new TableStore(lib, 3, 100, () => undefined);
    const s = store.acquire('z', () => table(4, 900))!;
    expect(rows.get(s.first + s.count - 1)).toBe(903);
  });

  it('remembers a binary without a table (or unreadable) without retrying it', () => {
    const { lib } = recordingArray();
    const store = new TableStore(lib, 3, 100);
    let tries = 0;
    expect(store.acquire('stripped', () => (tries++, undefined))).toBeUndefined();
    expect(store.acquire('stripped', () => (tries++, undefined))).toBeUndefined();
    expect(store.acquire('broken', () => {
      tries++;
      throw new Error('not an ELF file');
    })).toBeUndefined();
    expect(store.has('broken')).toBe(true);
    expect(tries).toBe(2);
  });
});
