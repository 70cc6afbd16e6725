import type { ElfFile } from './elf.js';
import type { SymbolTableBuilder } from './symbol-table.js';

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

/**
 * Adds the binary's Go functions to a table builder, each name a byte range of the table (no string or
 * object per function: 30 000 of each for a mid-sized Go program, a first-time cost of every Go binary
 * the agent meets). With `namesInThisFile` the builder learns where the table lies in the file, so the
 * names can be read from it on lookup instead of copied. Returns how many were added; an unknown or
 * damaged table adds none rather than something wrong.
 */
export function goFunctionSymbolsInto(elf: ElfFile, b: SymbolTableBuilder, rank: number, namesInThisFile = false): number {
  const section = elf.section('.gopclntab');
  // Read into the builder's working memory: names point into it until the table is built.
  const tab = section ? elf.sectionData('.gopclntab', b.memory) : undefined;
  if (!section || !tab || tab.length < 16) return 0;
  const src = b.source(tab, namesInThisFile ? section.offset : -1);
  const n0 = b.length;
  try {
    parsePclntab(tab, elf.section('.text')?.addr ?? 0, (value, size, start, end) => b.addBytes(value, size, rank, src, start, end));
  } catch {
    return 0; // every entry is checked before any is added: a damaged table added none
  }
  return b.length - n0;
}

/** Calls `fn` for each named function: its entry, size and name as bytes [start, end) of `tab`. */
function parsePclntab(tab: Buffer, textSectionAddr: number, fn: (value: number, size: number, start: number, end: number) => void): void {
  const magic = tab.readUInt32LE(0);
  const ptr = tab[7]!;
  if (tab[4] !== 0 || tab[5] !== 0 || (ptr !== 4 && ptr !== 8)) return;
  const word = (off: number): number => {
    if (off < 0 || off + ptr > tab.length) throw new RangeError('pclntab truncated');
    return ptr === 8 ? Number(tab.readBigUInt64LE(off)) : tab.readUInt32LE(off);
  };
  const field = (i: number): number => word(8 + i * ptr);
  const nfunc = field(0);
  if (nfunc > MAX_FUNCS) return;
  /** End of the NUL-terminated name at `start`; -1 when it is outside the table. */
  const nameEnd = (start: number): number => {
    if (start < 0 || start >= tab.length) return -1;
    const end = tab.indexOf(0, start);
    return end < 0 ? tab.length : end;
  };
  // Functions are consecutive: each ends where the next begins; the table ends with a sentinel entry.
  // Every entry is checked before any is reported, so a damaged table adds nothing.
  const entries = new Float64Array(nfunc + 1);
  const names = new Int32Array(nfunc);
  const add = (): void => {
    for (let i = 0; i < nfunc; i++) {
      const start = names[i]!;
      const end = nameEnd(start);
      if (end > start) fn(entries[i]!, entries[i + 1]! - entries[i]!, start, end);
    }
  };

  if (magic === GO_1_18 || magic === GO_1_20) {
    // nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
    const textStart = field(2) || textSectionAddr; // 0 in the file of a PIE: then it is .text's address
    const funcnames = field(3);
    const functab = field(7);
    for (let i = 0; i <= nfunc; i++) {
      const at = functab + i * 8;
      if (at + 8 > tab.length) throw new RangeError('functab truncated');
      entries[i] = textStart + tab.readUInt32LE(at);
      if (i === nfunc) break;
      const f = functab + tab.readUInt32LE(at + 4);
      if (f + 8 > tab.length) throw new RangeError('_func outside the table');
      names[i] = funcnames + tab.readInt32LE(f + 4);
    }
    add();
  } else if (magic === GO_1_16 || magic === GO_1_2) {
    // 1.16: nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset; the functab
    // holds (pc, offset of _func from the functab) word pairs, names are offsets into funcnametab.
    // 1.2: nfunc, then the functab itself; _func and name offsets count from the table start.
    const go116 = magic === GO_1_16;
    const functab = go116 ? field(6) : 8 + ptr;
    const funcBase = go116 ? functab : 0;
    const nameBase = go116 ? field(2) : 0;
    for (let i = 0; i <= nfunc; i++) {
      const at = functab + i * 2 * ptr;
      entries[i] = word(at);
      if (i === nfunc) break;
      const f = funcBase + word(at + ptr);
      if (f + ptr + 4 > tab.length) throw new RangeError('_func outside the table');
      names[i] = nameBase + tab.readInt32LE(f + ptr);
    }
    add();
  }
}
