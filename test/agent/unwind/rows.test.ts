import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withElf } from '../../../src/agent/symbolize/elf.js';
import { WorkingMemory } from '../../../src/agent/symbolize/working-memory.js';
import { compileRows, readRow, ROW, ROW_BYTES, unwindTableOf, type UnwindTable } from '../../../src/agent/unwind/rows.js';
import { compileFixture } from '../proof-support.js';
import { requireCommand } from '../require-bpf.js';

/**
 * The rows Kiln compiles from .eh_frame, checked against binutils' own interpretation of the same
 * CFA programs (`readelf -wF`: for every address where a rule changes, where the CFA, rbp and the
 * return address are) — an independent reader, row by row.
 */

interface ReadelfRow {
  readonly pc: number;
  readonly cfa: string;
  readonly rbp: string;
  readonly ra: string;
}

function readelfRows(binary: string): { rows: ReadelfRow[]; fdeEnds: number[] } {
  // readelf exits 1 on libc.so.6 with nothing on stderr (it has no .debug_* of its own) yet prints every table.
  const r = spawnSync('readelf', ['-wF', binary], { maxBuffer: 1 << 28 });
  const text = r.stdout.toString();
  if (!text.includes('FDE')) throw new Error(`readelf -wF ${binary} printed no FDE: ${r.stderr.toString()}`);
  const cies = new Map<string, ReadelfRow>();
  const rows: ReadelfRow[] = [];
  const fdeEnds: number[] = [];
  let cols: string[] = [];
  let current: { kind: 'cie'; offset: string } | { kind: 'fde'; cie: string; start: number; rows: number } | undefined;
  const closeFde = () => {
    // An FDE without instructions prints no rows: the CIE's initial rules cover it.
    if (current?.kind === 'fde' && current.rows === 0) {
      const cie = cies.get(current.cie);
      if (cie) rows.push({ ...cie, pc: current.start });
    }
  };
  for (const line of text.split('\n')) {
    let m = /^([0-9a-f]{8}) [0-9a-f]+ [0-9a-f]{8} CIE/.exec(line);
    if (m) {
      closeFde();
      current = { kind: 'cie', offset: m[1]! };
      continue;
    }
    m = /^[0-9a-f]{8} [0-9a-f]+ [0-9a-f]{8} FDE cie=([0-9a-f]{8}) pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (m) {
      closeFde();
      current = { kind: 'fde', cie: m[1]!, start: parseInt(m[2]!, 16), rows: 0 };
      fdeEnds.push(parseInt(m[3]!, 16));
      continue;
    }
    if (/^\s+LOC\s+CFA/.test(line)) {
      cols = line.trim().split(/\s+/);
      continue;
    }
    m = /^([0-9a-f]{16}) (.*)$/.exec(line);
    if (!m || !current) continue;
    // A register rule prints as "r10 (r10)": one value with a space in it.
    const values = m[2]!.replace(/ \(\w+\)/g, '').trim().split(/\s+/);
    const col = (name: string) => values[cols.indexOf(name) - 1] ?? 'u';
    const row = { pc: parseInt(m[1]!, 16), cfa: col('CFA'), rbp: col('rbp'), ra: col('ra') };
    if (current.kind === 'cie') cies.set(current.offset, row);
    else {
      rows.push(row);
      current.rows++;
    }
  }
  closeFde();
  return { rows, fdeEnds };
}

/** What Kiln's row must say for readelf's rules (type, cfa offset, rbp offset / 8); 'plt-or-unsupported' for expressions. */
function expected(r: ReadelfRow): [number, number, number] | 'expression' {
  if (r.ra === 'u') return [ROW.end, 0, 0];
  if (r.ra !== 'c-8') return [ROW.unsupported, 0, 0];
  if (r.cfa === 'exp') return 'expression';
  const cfa = /^(rsp|rbp)\+(-?\d+)$/.exec(r.cfa);
  if (!cfa) return [ROW.unsupported, 0, 0];
  let rbp = 0;
  if (/^c-?\d+$/.test(r.rbp)) rbp = Number(r.rbp.slice(1)) / 8;
  else if (r.rbp !== 'u' && r.rbp !== 's') return [ROW.unsupported, 0, 0];
  const offset = Number(cfa[2]);
  // Rows hold 16-bit offsets; larger rsp offsets in units of 8 (ROW.cfaRspX8), anything else cannot be held.
  if (offset > 32767 && (cfa[1] !== 'rsp' || offset % 8 !== 0)) return [ROW.unsupported, 0, 0];
  return [cfa[1] === 'rsp' ? ROW.cfaRsp : ROW.cfaRbp, offset, rbp];
}

/** A row as [type, CFA offset in bytes, rbp offset / 8], large-frame rows read back as plain rsp ones. */
function effective(r: ReturnType<typeof readRow>): [number, number, number] {
  return r.type === ROW.cfaRspX8 ? [ROW.cfaRsp, r.cfaOff * 8, r.rbpOff8] : [r.type, r.cfaOff, r.rbpOff8];
}

/** Kiln's row in force at `pc` (the last one at or below it). */
function rowAt(t: UnwindTable, pc: number): ReturnType<typeof readRow> | undefined {
  let lo = 0;
  let hi = t.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (readRow(t.rows, mid).pc <= pc) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 ? readRow(t.rows, found) : undefined;
}

function checkAgainstReadelf(binary: string): number {
  const table = withElf(binary, (elf) => unwindTableOf(elf));
  expect(table, `no unwind table compiled from ${binary}`).toBeDefined();
  const { rows, fdeEnds } = readelfRows(binary);
  const starts = new Set(rows.map((r) => r.pc));
  const mismatches: string[] = [];
  let checked = 0;
  for (const r of rows) {
    const want = expected(r);
    const got = rowAt(table!, r.pc);
    const where = `0x${r.pc.toString(16)}: readelf says CFA ${r.cfa}, rbp ${r.rbp}, ra ${r.ra}`;
    if (!got) mismatches.push(`${where}; Kiln has no row`);
    else if (want === 'expression' ? got.type !== ROW.cfaPlt && got.type !== ROW.unsupported : effective(got).join() !== want.join()) {
      mismatches.push(`${where}; Kiln has ${effective(got).join(',')}`);
    }
    checked++;
  }
  // Where a function ends and no other begins, its rule must not run on.
  for (const end of fdeEnds) if (!starts.has(end) && rowAt(table!, end)?.type !== ROW.none) mismatches.push(`0x${end.toString(16)}: an FDE ends here, Kiln's rule runs on`);
  expect(mismatches.slice(0, 5), `${mismatches.length} of ${checked} rows differ`).toEqual([]);
  return checked;
}

describe('unwind rows from .eh_frame', () => {
  it('agree with readelf -wF on every rule row of an -O2 -fomit-frame-pointer program', () => {
    requireCommand('readelf', 'binutils');
    const bin = compileFixture('chain.c', 'chain', ['-O2', '-fomit-frame-pointer']);
    expect(checkAgainstReadelf(bin)).toBeGreaterThan(10);
  });

  it('agree with readelf -wF on every rule row of the system C library, and recognise its PLT', () => {
    requireCommand('readelf', 'binutils');
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((p) => existsSync(p));
    expect(libc, 'no libc.so.6 where Debian puts it').toBeDefined();
    expect(checkAgainstReadelf(libc!)).toBeGreaterThan(10_000);
    const table = withElf(libc!, (elf) => unwindTableOf(elf))!;
    const types = new Set(Array.from({ length: table.count }, (_, i) => readRow(table.rows, i).type));
    expect(types.has(ROW.cfaPlt), 'the .plt entries get the PLT rule').toBe(true);
    // Sorted, and no two neighbours alike (merged).
    for (let i = 1; i < table.count; i++) {
      const a = readRow(table.rows, i - 1);
      const b = readRow(table.rows, i);
      expect(b.pc).toBeGreaterThan(a.pc);
      expect([a.type, a.cfaOff, a.rbpOff8]).not.toEqual([b.type, b.cfaOff, b.rbpOff8]);
    }
  });

  it('sorts FDEs that do not come in address order (two sections, the higher one first)', () => {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((p) => existsSync(p));
    expect(libc, 'no libc.so.6 where Debian puts it').toBeDefined();
    const { data, addr } = withElf(libc!, (elf) => ({ data: elf.sectionData('.eh_frame')!, addr: elf.section('.eh_frame')!.addr }));
    // .eh_frame pointers are pc-relative: the same bytes placed 256 MiB higher describe code 256 MiB higher.
    const shift = 0x10000000;
    const low = compileRows([{ data, addr, kind: 'eh_frame' }]);
    const both = compileRows([{ data, addr: addr + shift, kind: 'eh_frame' }, { data, addr, kind: 'eh_frame' }]);
    expect(both.count).toBe(low.count * 2);
    expect(both.rows.subarray(0, low.rows.length).equals(low.rows), 'the lower copy comes first, unchanged').toBe(true);
    for (let i = 0; i < low.count; i += 997) expect(readRow(both.rows, low.count + i)).toEqual({ ...readRow(low.rows, i), pc: readRow(low.rows, i).pc + shift });
  });

  it('compiles table after table without leaving dead buffers behind (working memory freed)', () => {
    const binaries = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3.11', process.execPath];
    for (const b of binaries) expect(existsSync(b), `${b} is missing on this machine`).toBe(true);
    const compileAll = () =>
      binaries.map((b) => {
        const t = withElf(b, (elf) => unwindTableOf(elf, false))!;
        expect(WorkingMemory.outstandingBytes, `${b}: its rows are held until released`).toBeGreaterThan(t.count * ROW_BYTES - 1);
        t.release!();
        return t.count;
      });
    const counts = compileAll();
    const before = process.memoryUsage().arrayBuffers;
    for (let round = 0; round < 3; round++) expect(compileAll()).toEqual(counts);
    expect(WorkingMemory.outstandingBytes, 'bytes of working memory not given back').toBe(0);
    const grown = (process.memoryUsage().arrayBuffers - before) / 1048576;
    // Each round over node (372 k rows), python3 and libc made over 20 MiB of arrays before, left to the GC.
    expect(grown, 'MiB of V8 array buffers allocated by 3 more rounds of compiles').toBeLessThan(2);
    // A table compiled to keep is its own copy, with nothing left to free.
    const kept = withElf(binaries[0]!, (elf) => unwindTableOf(elf))!;
    expect(kept.release).toBeUndefined();
    expect(WorkingMemory.outstandingBytes).toBe(0);
    const copy = Buffer.from(kept.rows);
    compileAll();
    expect(kept.rows.equals(copy)).toBe(true);
  });
});
