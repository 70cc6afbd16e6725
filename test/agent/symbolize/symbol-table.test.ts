import { describe, expect, it } from 'vitest';
import { SymbolTable, SymbolTableBuilder } from '../../../src/agent/symbolize/symbol-table.js';

describe('symbol table', () => {
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
    // Two addresses and an offset per symbol, and only the kept names: `unused` is not copied.
    expect(t.byteSize).toBe(3 * 16 + 4 * 4 + Buffer.byteLength('main' + 'größe::berechnen' + 'from_go_table'));
  });
});
