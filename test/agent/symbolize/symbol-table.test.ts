import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NameFile } from '../../../src/agent/symbolize/symbol-names.js';
import { SymbolTable, SymbolTableBuilder } from '../../../src/agent/symbolize/symbol-table.js';
import { WorkingMemory } from '../../../src/agent/symbolize/working-memory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-symtab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('symbol table', () => {
  it('frees the columns it was built from once built (working memory), keeping only its own', () => {
    const b = new SymbolTableBuilder();
    for (let i = 0; i < 5000; i++) b.add(`f${i}`, 0x400000 + (4999 - i) * 16, 16, 0);
    expect(WorkingMemory.outstandingBytes, 'columns grown past 4096 symbols').toBeGreaterThan(5000 * 29);
    const t = new SymbolTable(b);
    expect(WorkingMemory.outstandingBytes).toBe(0);
    expect([t.length, t.lookup(0x400000 + 4999 * 16 + 3), t.lookup(0x400000 + 5)]).toEqual([5000, 'f0', 'f4999']);
    expect(() => new SymbolTable(b), 'a builder builds one table').toThrow();
  });

  it('orders symbols given in any order, keeping the higher-ranked alias of an address, over spans small and huge', () => {
    // 3 000 symbols (12 index bits): 1 MiB and 1 GiB spans pack within 53 bits, 2^45 bytes into 64-bit
    // integers only, 2^52 into neither (the comparator): the same order in each.
    for (const span of [2 ** 20, 2 ** 30, 2 ** 45, 2 ** 52]) {
      const n = 3000;
      const step = Math.floor(span / n);
      let seed = 7;
      const shuffled = Array.from({ length: n }, (_, i) => i).sort(() => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 3) - 1);
      const b = new SymbolTableBuilder();
      for (const i of shuffled) {
        b.add(`low${i}`, 0x1000 + i * step, 8, 0);
        if (i % 10 === 0) b.add(`high${i}`, 0x1000 + i * step, 8, 2); // an alias that must win
      }
      const t = new SymbolTable(b);
      expect(t.length, `span 2^${Math.log2(span)}`).toBe(n);
      const wrong: string[] = [];
      for (let i = 0; i < n; i++) {
        const want = i % 10 === 0 ? `high${i}` : `low${i}`;
        const got = t.lookup(0x1000 + i * step + 4);
        if (got !== want) wrong.push(`${want}: ${got}`);
      }
      expect(wrong.slice(0, 5), `span 2^${Math.log2(span)}`).toEqual([]);
    }
  });

  it('names the function containing an address and nothing past a sized symbol’s end', () => {
    const t = new SymbolTable([
      { name: 'b', value: 0x2000, size: 0x10 },
      { name: 'a', value: 0x1000, size: 0x100 },
    ]);
    expect([t.lookup(0x1000), t.lookup(0x10ff), t.lookup(0x1100), t.lookup(0x2008), t.lookup(0xfff)]).toEqual(['a', 'a', undefined, 'b', undefined]);
    expect(t.startOf(0x2008)).toBe(0x2000);
  });

  it('prefers the higher-ranked alias at one address and lets an unsized symbol reach the next, capped', () => {
    const t = new SymbolTable(
      [
        { name: 'local_alias', value: 0x1000, size: 0, rank: 0 },
        { name: 'global_name', value: 0x1000, size: 0, rank: 2 },
        { name: 'next', value: 0x5000, size: 0 },
      ],
      0x1000,
    );
    expect(t.length).toBe(2);
    expect([t.lookup(0x1fff), t.lookup(0x2000), t.lookup(0x5fff)]).toEqual(['global_name', undefined, 'next']);
  });

  it('keeps names given as byte ranges of a string table, UTF-8 included, alongside names given as strings', () => {
    const strtab = Buffer.from('\0main\0größe::berechnen\0unused\0', 'utf8');
    const b = new SymbolTableBuilder();
    const src = b.source(strtab);
    const at = (name: string) => strtab.indexOf(Buffer.from(`${name}\0`, 'utf8'));
    b.addBytes(0x400, 0x20, 2, src, at('main'), at('main') + 4);
    const grosse = Buffer.byteLength('größe::berechnen');
    b.addBytes(0x500, 0x20, 2, src, at('größe::berechnen'), at('größe::berechnen') + grosse);
    b.add('from_go_table', 0x600, 0x20, 2);
    const t = new SymbolTable(b);
    expect([t.lookup(0x410), t.lookup(0x510), t.lookup(0x610)]).toEqual(['main', 'größe::berechnen', 'from_go_table']);
    // Two 32-bit address offsets and a name offset per symbol, and only the kept names: `unused` is not copied.
    expect(t.byteSize).toBe(3 * 8 + 4 * 4 + Buffer.byteLength('main' + 'größe::berechnen' + 'from_go_table'));
    expect(t.namesInFile).toBe(false);
  });

  it('reads names from the binary on lookup when they all lie in it, holding only their offsets', () => {
    // A "binary" whose string table starts at byte 1000, with a C++-length name past one 256-byte read.
    const long = `_ZN${'N'.repeat(3000)}E`;
    const strtab = Buffer.from(`\0main\0größe::berechnen\0${long}\0`, 'utf8');
    const file = path.join(dir, 'binary');
    writeFileSync(file, Buffer.concat([Buffer.alloc(1000, 0xcc), strtab, Buffer.alloc(100, 0xcc)]));
    const b = new SymbolTableBuilder();
    const src = b.source(strtab, 1000);
    for (const [value, name] of [[0x400, 'main'], [0x500, 'größe::berechnen'], [0x600, long]] as const) {
      const at = strtab.indexOf(Buffer.from(`${name}\0`, 'utf8'));
      b.addBytes(value, 0x20, 2, src, at, at + Buffer.byteLength(name));
    }
    const t = new SymbolTable(b, undefined, new NameFile(openSync(file, 'r'), 1000 + strtab.length + 100));
    expect(t.namesInFile).toBe(true);
    expect([t.lookup(0x410), t.lookup(0x510), t.lookup(0x610), t.lookup(0x620)]).toEqual(['main', 'größe::berechnen', long, undefined]);
    expect(t.byteSize).toBe(3 * 8 + 3 * 4);
  });

  it('copies the names when one of them is not in the binary (a Go table’s, a debug file’s)', () => {
    const strtab = Buffer.from('\0main\0', 'utf8');
    const file = path.join(dir, 'binary2');
    writeFileSync(file, strtab);
    const b = new SymbolTableBuilder();
    b.addBytes(0x400, 0x20, 2, b.source(strtab, 0), 1, 5);
    b.add('from_go_table', 0x600, 0x20, 2);
    const t = new SymbolTable(b, undefined, new NameFile(openSync(file, 'r'), strtab.length));
    expect(t.namesInFile).toBe(false);
    expect([t.lookup(0x400), t.lookup(0x600)]).toEqual(['main', 'from_go_table']);
  });

  it('keeps exact addresses for a table spanning more than 4 GiB', () => {
    const far = 2 ** 33 + 0x1000;
    const t = new SymbolTable([
      { name: 'low', value: 0x1000, size: 0x10 },
      { name: 'high', value: far, size: 0x10 },
    ]);
    expect([t.lookup(0x1008), t.lookup(far + 8), t.lookup(far + 0x10), t.lookup(far - 1)]).toEqual(['low', 'high', undefined, undefined]);
    expect(t.startOf(far + 8)).toBe(far);
  });

  it('names nothing below its first symbol nor past the last unsized one’s cap', () => {
    const t = new SymbolTable([{ name: 'only', value: 0x10000, size: 0 }], 0x100);
    expect([t.lookup(0xffff), t.lookup(0x10000), t.lookup(0x100ff), t.lookup(0x10100), t.lookup(2 ** 40)]).toEqual([undefined, 'only', 'only', undefined, undefined]);
  });
});
