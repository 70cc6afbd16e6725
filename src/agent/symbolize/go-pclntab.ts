import type { ElfFile, ElfSymbol } from './elf.js';
import { STB_GLOBAL } from './elf.js';
import { withWorkingMemory } from './working-memory.js';

/**
 * Function names of a Go binary from its `.gopclntab`, the table the Go runtime itself uses for
 * tracebacks. Go binaries are often stripped (`-ldflags=-s -w`, most distribution packages), which
 * removes `.symtab` but never this table, so Go frames can still be named.
 *
 * Layouts (by magic): Go 1.2–1.15, 1.16–1.17, 1.18–1.19 and 1.20+ (same as 1.18). Each starts with
 * magic, two zero bytes, the instruction quantum and the pointer size; then pointer-sized fields.
 */
const GO_1_2 = 0xfffffffb;
const GO_1_16 = 0xfffffffa;
const GO_1_18 = 0xfffffff0;
const GO_1_20 = 0xfffffff1;

/** Upper bound on functions read (real binaries have tens of thousands). */
const MAX_FUNCS = 2_000_000;

export function goFunctionSymbols(elf: ElfFile): ElfSymbol[] {
  // The table is read once and dropped (names are copied out as strings): working memory, freed on return.
  return withWorkingMemory((memory) => {
    const tab = elf.sectionData('.gopclntab', memory);
    if (!tab || tab.length < 16) return [];
    try {
      return parsePclntab(tab, elf.section('.text')?.addr ?? 0);
    } catch {
      return []; // an unknown or damaged table names nothing rather than something wrong
    }
  });
}

function parsePclntab(tab: Buffer, textSectionAddr: number): ElfSymbol[] {
  const magic = tab.readUInt32LE(0);
  const ptr = tab[7]!;
  if (tab[4] !== 0 || tab[5] !== 0 || (ptr !== 4 && ptr !== 8)) return [];
  const word = (off: number): number => {
    if (off < 0 || off + ptr > tab.length) throw new RangeError('pclntab truncated');
    return ptr === 8 ? Number(tab.readBigUInt64LE(off)) : tab.readUInt32LE(off);
  };
  const field = (i: number): number => word(8 + i * ptr);
  const nfunc = field(0);
  if (nfunc > MAX_FUNCS) return [];
  const out: ElfSymbol[] = [];
  const cstring = (start: number): string => {
    if (start < 0 || start >= tab.length) return '';
    let end = tab.indexOf(0, start);
    if (end < 0) end = tab.length;
    return tab.toString('utf8', start, end);
  };
  // Functions are consecutive: each ends where the next begins; the table ends with a sentinel entry.
  const add = (entries: number[], names: string[]): void => {
    for (let i = 0; i < names.length; i++) {
      if (names[i]) out.push({ name: names[i]!, value: entries[i]!, size: entries[i + 1]! - entries[i]!, bind: STB_GLOBAL });
    }
  };

  if (magic === GO_1_18 || magic === GO_1_20) {
    // nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
    const textStart = field(2) || textSectionAddr; // 0 in the file of a PIE: then it is .text's address
    const funcnames = field(3);
    const functab = field(7);
    const entries: number[] = [];
    const names: string[] = [];
    for (let i = 0; i <= nfunc; i++) {
      const at = functab + i * 8;
      if (at + 8 > tab.length) throw new RangeError('functab truncated');
      entries.push(textStart + tab.readUInt32LE(at));
      if (i === nfunc) break;
      const fn = functab + tab.readUInt32LE(at + 4);
      if (fn + 8 > tab.length) throw new RangeError('_func outside the table');
      names.push(cstring(funcnames + tab.readInt32LE(fn + 4)));
    }
    add(entries, names);
  } else if (magic === GO_1_16 || magic === GO_1_2) {
    // 1.16: nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset; the functab
    // holds (pc, offset of _func from the functab) word pairs, names are offsets into funcnametab.
    // 1.2: nfunc, then the functab itself; _func and name offsets count from the table start.
    const go116 = magic === GO_1_16;
    const functab = go116 ? field(6) : 8 + ptr;
    const funcBase = go116 ? functab : 0;
    const nameBase = go116 ? field(2) : 0;
    const entries: number[] = [];
    const names: string[] = [];
    for (let i = 0; i <= nfunc; i++) {
      const at = functab + i * 2 * ptr;
      entries.push(word(at));
      if (i === nfunc) break;
      const fn = funcBase + word(at + ptr);
      if (fn + ptr + 4 > tab.length) throw new RangeError('_func outside the table');
      names.push(cstring(nameBase + tab.readInt32LE(fn + ptr)));
    }
    add(entries, names);
  }
  return out;
}
