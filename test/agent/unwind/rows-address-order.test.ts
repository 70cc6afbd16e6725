import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withElf } from '../../../src/agent/symbolize/elf.js';
import { parseCfi, type CfiSection } from '../../../src/agent/unwind/cfi.js';
import { encodeRule, ROW, unwindTableOf } from '../../../src/agent/unwind/rows.js';
import { mappedLibc } from '../symbolize/mapped-libc.js';

/**
 * compileRows runs each FDE's program in address order straight into the merged rows, holding no raw
 * rows. Its table must be the one the plain way gives: every FDE parsed in file order with its rows
 * kept, the FDEs then sorted by start (ties in file order), and the rows merged (a row past 4 GiB left
 * out, one below the last row's pc dropped, one at it replacing it, one with the same rule dropped, a
 * "no info" row where each FDE ends) — written out here on its own as the reference.
 */
function referenceRows(section: CfiSection): Buffer {
  const fdes: Array<{ start: number; end: number; rows: Array<[number, number]> }> = [];
  parseCfi(section, {
    fde: (start, end) => fdes.push({ start, end, rows: [] }),
    row: (pc, state) => fdes[fdes.length - 1]!.rows.push([pc, encodeRule(state)]),
  });
  const byStart = fdes.map((f, i) => ({ f, i })).sort((a, b) => Math.min(a.f.start, 0xffffffff) - Math.min(b.f.start, 0xffffffff) || a.i - b.i);
  const out: Array<[number, number]> = [];
  const push = (pc: number, code: number): void => {
    if (pc >= 2 ** 32) return;
    const last = out[out.length - 1];
    if (last && pc < last[0]) return;
    if (last && pc === last[0]) out.pop();
    const before = out[out.length - 1];
    if (before && before[1] === code) return;
    out.push([pc, code]);
  };
  const none = (ROW.none << 16) >>> 0;
  for (const { f } of byStart) {
    for (const [pc, code] of f.rows) push(pc, code);
    push(f.end, none);
  }
  const rows = Buffer.alloc(out.length * 8);
  out.forEach(([pc, code], i) => {
    rows.writeUInt32LE(pc, i * 8);
    rows.writeUInt32LE(code, i * 8 + 4);
  });
  return rows;
}

describe('unwind rows compiled in address order', () => {
  it('are the rows of every FDE parsed in file order, sorted and merged, for node, libc and python3', () => {
    for (const file of [process.execPath, mappedLibc(), realpathSync('/usr/bin/python3')]) {
      const [compiled, reference] = withElf(file, (elf) => {
        const s = elf.section('.eh_frame');
        if (!s) throw new Error(`${file} has no .eh_frame`);
        return [unwindTableOf(elf)!, referenceRows({ data: elf.sectionData('.eh_frame')!, addr: s.addr, kind: 'eh_frame' })] as const;
      });
      expect(compiled.count).toBeGreaterThan(10_000);
      expect(compiled.rows.length).toBe(reference.length);
      expect(compiled.rows.equals(reference)).toBe(true);
    }
  });
});
