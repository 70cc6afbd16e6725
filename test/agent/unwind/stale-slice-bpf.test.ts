import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfProfiler } from '../../../src/agent/loader.js';
import { Sampler } from '../../../src/agent/sampler.js';
import { ElfFile, PT_LOAD } from '../../../src/agent/symbolize/elf.js';
import { readMaps } from '../../../src/agent/symbolize/proc-maps.js';
import { packedLayout } from '../../../src/agent/unwind/page-index.js';
import { procInfoValue } from '../../../src/agent/unwind/proc-info.js';
import { PROC_TABLES } from '../../../src/agent/unwind/process-tables.js';
import { ROW, ROW_BYTES, unwindTableOf, type UnwindTable } from '../../../src/agent/unwind/rows.js';
import { TableStore } from '../../../src/agent/unwind/table-store.js';
import { compileFixture } from '../proof-support.js';
import { requireBpf } from '../require-bpf.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Swaps back and forth after the first one. */
const ROUNDS = 12;

/** The same pcs as `t`, every row saying "a rule the walker cannot follow": a walk stops at its first frame. */
function dead(t: UnwindTable): UnwindTable {
  const rows = Buffer.from(t.rows.subarray(0, t.count * ROW_BYTES));
  for (let i = 0; i < t.count; i++) rows.writeUInt8(ROW.unsupported, i * ROW_BYTES + 6);
  return { rows, count: t.count, unsupported: t.count };
}

/**
 * The walker's per-CPU cache of rows found (bpf/unwind.h row_caches) is keyed by the table's tag and the
 * pc. A slice of unwind_rows freed and reused for another binary's table must never answer from that cache
 * with the rows of the binary before it: here the slice of an -O2 -fomit-frame-pointer program, walked
 * (and cached) for a while, is reused for a table of the same size and pcs whose rows all stop the walk.
 * Before the swap the walks go main → chain_a → chain_b → chain_c; after it, a walk that still found the
 * old rows would go on past the leaf.
 */
describe('a reused table slice and the row cache (real eBPF, root)', () => {
  it('walks with the new table\'s rows as soon as the slice holds it, never the cached rows of the one before', { timeout: 60_000 }, async () => {
    requireBpf();
    const bin = compileFixture('chain.c', 'chain', ['-O2', '-fomit-frame-pointer']);
    const elf = ElfFile.open(bin);
    const table = unwindTableOf(elf);
    expect(table, 'the fixture has .eh_frame rows').toBeDefined();
    const child = spawn(bin, ['30'], { stdio: 'ignore' });
    const bpf = BpfProfiler.start({ frequencyHz: 499, stackMapSize: 4096, countsMapSize: 4096, unwindRows: 1 << 16 });
    try {
      const pid = child.pid!;
      const lib = bpf.lib;
      const rowsFd = bpf.mapFd('unwind_rows');
      // Room for one table only: the second upload must take the first one's slice.
      const size = packedLayout(table!).count;
      const store = new TableStore(lib, rowsFd, size, (offset, length) => lib.mmapMap(rowsFd, length, offset), lib.pageSize());
      let mapping = readMaps(pid)?.find((m) => m.path === bin);
      for (let i = 0; i < 50 && !mapping; i++) {
        await sleep(20);
        mapping = readMaps(pid)?.find((m) => m.path === bin);
      }
      expect(mapping, 'the fixture\'s code mapping in /proc/PID/maps').toBeDefined();
      const m = mapping!;
      const load = elf.programHeaders.find((p) => p.type === PT_LOAD && m.offset >= p.offset && m.offset < p.offset + p.filesz);
      expect(load, 'the PT_LOAD segment of the code mapping').toBeDefined();
      const bias = m.start - m.offset + load!.offset - load!.vaddr;

      const procsFd = bpf.mapFd('procs');
      const pidKey = Buffer.alloc(4);
      pidKey.writeUInt32LE(pid);
      const point = (first: number, count: number) =>
        expect(lib.mapUpdateElem(procsFd, pidKey, procInfoValue(PROC_TABLES, [{ start: m.start, end: m.end, bias, first, count }]), 0)).toBe(0);
      const tagAt = (first: number) => {
        const key = Buffer.alloc(4);
        const value = Buffer.alloc(ROW_BYTES);
        key.writeUInt32LE(first + 1);
        expect(lib.mapLookupElem(rowsFd, key, value)).toBe(0);
        return value.readUInt32LE(0);
      };
      // Frames of a user-mode sample of the fixture that lie in its own code.
      const inBinary = (addrs: readonly bigint[]) => addrs.filter((a) => a >= BigInt(m.start) && a < BigInt(m.end)).length;
      const sampler = new Sampler(bpf);
      const samplesOfChild = async () => (await sampler.collect()).samples.filter((s) => s.pid === pid && s.kernelAddrs.length === 0);

      const before = store.acquire('chain', () => table)!;
      const tagBefore = tagAt(before.first);
      point(before.first, before.count);
      await samplesOfChild(); // samples taken before the entry was written
      await sleep(1500);
      const walked = await samplesOfChild();
      const whole = walked.filter((s) => inBinary(s.userAddrs) >= 4).reduce((n, s) => n + s.count, 0);
      const total = walked.reduce((n, s) => n + s.count, 0);
      expect(total, 'user-mode samples of the fixture with its real table').toBeGreaterThan(20);
      expect(whole / total, `samples walked main → chain_a → chain_b → chain_c with the real table (${whole} of ${total})`).toBeGreaterThan(0.8);

      store.release('chain');
      const after = store.acquire('decoy', () => dead(table!))!;
      expect(after.first, 'the decoy table took the same slice').toBe(before.first);
      expect(after.count).toBe(before.count);
      expect(tagAt(after.first), 'a new upload, a new tag').not.toBe(tagBefore);
      // The process's entry is not even rewritten: it points at the same slice, now holding other rows.
      await samplesOfChild(); // samples that may have straddled the upload
      await sleep(1500);
      const stale = await samplesOfChild();
      const staleTotal = stale.reduce((n, s) => n + s.count, 0);
      const pastLeaf = stale.filter((s) => inBinary(s.userAddrs) >= 2).reduce((n, s) => n + s.count, 0);
      expect(staleTotal, 'user-mode samples of the fixture after the swap').toBeGreaterThan(20);
      expect(pastLeaf, `samples walked past their leaf after the swap (of ${staleTotal}): the cache answered with the old table's rows`).toBe(0);

      // The swap again, both ways, while the fixture runs: a walk in the middle of an upload must not
      // cache the rows of the table before under the new one's tag (the tag is written last). With the
      // tag written first, one swap in 5-8 failed on a loaded host (599 of 753 samples in a CI run).
      let old = 'decoy';
      for (let round = 1; round <= ROUNDS; round++) {
        store.release(old);
        const real = store.acquire(`chain-${round}`, () => table)!;
        expect(real.first).toBe(before.first);
        await sleep(100);
        store.release(`chain-${round}`);
        old = `decoy-${round}`;
        expect(store.acquire(old, () => dead(table!))!.first).toBe(before.first);
        await samplesOfChild();
        await sleep(250);
        const swapped = await samplesOfChild();
        const walkedPast = swapped.filter((s) => inBinary(s.userAddrs) >= 2).reduce((n, s) => n + s.count, 0);
        expect(walkedPast, `round ${round}: samples walked past their leaf after the swap (of ${swapped.reduce((n, s) => n + s.count, 0)})`).toBe(0);
      }
    } finally {
      child.kill('SIGKILL');
      bpf.close();
      elf.close();
    }
  });
});
