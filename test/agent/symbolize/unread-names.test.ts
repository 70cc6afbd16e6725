import { execFileSync } from 'node:child_process';
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withElf, type NamePlacement } from '../../../src/agent/symbolize/elf.js';
import { NameFile } from '../../../src/agent/symbolize/symbol-names.js';
import { SymbolTable, SymbolTableBuilder } from '../../../src/agent/symbolize/symbol-table.js';
import { compiler } from './native-program.js';
import { mappedLibc } from './mapped-libc.js';

/**
 * A table whose names stay in the binary ('unread': its string tables scanned in windows, never held)
 * must be the very table built from string tables read whole: same symbols, same aliases kept, same
 * names, on real binaries and on names that cross the scan's windows.
 */

let dir: string;
let longNames: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-unread-'));
  // 80 functions named by 40 000 characters each: 3.2 MB of names per string table, so names cross the
  // 1 MiB windows, some by more than the 4 KiB read past a window.
  const fns = Array.from({ length: 80 }, (_, i) => `void f${i}_${'x'.repeat(40_000)}(void) { }`);
  const source = path.join(dir, 'long-names.c');
  writeFileSync(source, fns.join('\n'));
  longNames = path.join(dir, 'liblong.so');
  execFileSync(compiler(), ['-shared', '-fPIC', '-O0', '-o', longNames, source]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nameFileOf(file: string): NameFile {
  const fd = openSync(file, 'r');
  return new NameFile(fd, fstatSync(fd).size);
}

function tableOf(file: string, names: NamePlacement, extra?: (b: SymbolTableBuilder) => void): SymbolTable {
  const b = new SymbolTableBuilder();
  withElf(file, (elf) => elf.functionSymbolsInto(b, names));
  extra?.(b);
  return new SymbolTable(b, undefined, names === 'copied' ? undefined : nameFileOf(file));
}

/** Every function's start, end side and name in `t`, at each address the ELF file names a function. */
function everyLookup(file: string, t: SymbolTable): string[] {
  const out: string[] = [];
  const symbols = withElf(file, (elf) => elf.functionSymbols());
  for (const s of symbols) for (const at of [s.value, s.value + Math.max(0, s.size - 1)]) out.push(`${at} ${t.startOf(at)} ${t.lookup(at)}`);
  return out;
}

describe('symbol names left unread in the binary', () => {
  it('give the same table as string tables read whole, for node and libc', () => {
    for (const file of [process.execPath, mappedLibc()]) {
      const held = tableOf(file, 'copied');
      const unread = tableOf(file, 'unread');
      expect(unread.namesInFile).toBe(true);
      expect(unread.length).toBe(held.length);
      expect(held.length).toBeGreaterThan(1000);
      expect(everyLookup(file, unread)).toEqual(everyLookup(file, held));
    }
  });

  it('find where names end across the scan’s windows, past the bytes read beyond one', () => {
    // The case this test is for: the name spanning the first window's end runs past the 4 KiB read beyond it.
    const strtab = withElf(longNames, (elf) => elf.sectionData('.strtab'))!;
    const window = 1 << 20;
    expect(strtab.indexOf(0, window)).toBeGreaterThan(window + 4096);
    expect(strtab.lastIndexOf(0, window)).toBeLessThan(window);
    const held = everyLookup(longNames, tableOf(longNames, 'copied'));
    expect(everyLookup(longNames, tableOf(longNames, 'unread'))).toEqual(held);
    // Copied from the file (a name given as a string added), where each name ends is what is copied.
    const addOne = (b: SymbolTableBuilder): void => b.add('from_go_table', 0x10, 0x8, 2);
    const copiedFromFile = everyLookup(longNames, tableOf(longNames, 'unread', addOne));
    expect(copiedFromFile).toEqual(everyLookup(longNames, tableOf(longNames, 'copied', addOne)));
    // Every long name is whole: 80 of them, 2 lookups each, from .symtab and .dynsym.
    for (const lookups of [held, copiedFromFile]) expect(lookups.filter((l) => /f\d+_x{40000}$/.test(l)).length).toBe(2 * 2 * 80);
  });

  it('are copied from the file when the table also holds names given as strings', () => {
    const file = mappedLibc();
    const mixed = tableOf(file, 'unread', (b) => b.add('from_go_table', 0x10, 0x8, 2));
    const held = tableOf(file, 'copied', (b) => b.add('from_go_table', 0x10, 0x8, 2));
    expect(mixed.namesInFile).toBe(false);
    expect(mixed.lookup(0x14)).toBe('from_go_table');
    expect(everyLookup(file, mixed)).toEqual(everyLookup(file, held));
  });

  it('cannot be built into a table without their file', () => {
    const b = new SymbolTableBuilder();
    withElf(mappedLibc(), (elf) => elf.functionSymbolsInto(b, 'unread'));
    b.add('from_go_table', 0x10, 0x8, 2);
    expect(() => new SymbolTable(b)).toThrow(/without that file/);
  });
});
