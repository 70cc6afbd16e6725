import { readFileSync } from 'node:fs';
import { buildIdFromNotes } from './elf.js';
import { SymbolTable, SymbolTableBuilder } from './symbol-table.js';

/**
 * Kernel symbols from /proc/kallsyms. Kernel addresses do not fit a double, so they are kept as
 * offsets from KERNEL_BASE (all of the kernel half of the x86-64 / arm64 address space lies above it).
 * Without root (or with kptr_restrict) every address reads 0: the table is then empty and kernel
 * frames stay `[kernel.kallsyms]+0x…`.
 */
const KERNEL_BASE = 0xffff000000000000n;

export const KERNEL_MAPPING = '[kernel.kallsyms]';
/** Kernel functions are far smaller; a gap wider than this is not code of the symbol before it. */
const MAX_KERNEL_FUNCTION = 256 * 1024;

export interface KernelFrame {
  readonly name: string;
  /** `[kernel.kallsyms]` for the core kernel, `[module]` for a loadable module. */
  readonly mapping: string;
}

export class KernelSymbols {
  private constructor(
    private readonly table: SymbolTable,
    readonly buildId: string,
  ) {}

  static load(kallsymsPath = '/proc/kallsyms', notesPath = '/sys/kernel/notes'): KernelSymbols {
    const b = new SymbolTableBuilder();
    let text: Buffer = Buffer.alloc(0);
    try {
      // 5 MiB of text, needed only until the table is built: the builder's working memory.
      text = b.memory.readFile(kallsymsPath, 8 << 20);
    } catch {
      // Not readable (e.g. a locked-down host): kernel frames stay unsymbolized.
    }
    let buildId = '';
    try {
      buildId = buildIdFromNotes(readFileSync(notesPath));
    } catch {
      // Build id is a nicety; a kernel without notes still symbolizes.
    }
    addKallsyms(text, b);
    return new KernelSymbols(new SymbolTable(b, MAX_KERNEL_FUNCTION), buildId);
  }

  /** Number of code symbols (0 when addresses were hidden). */
  get size(): number {
    return this.table.length;
  }

  lookup(address: bigint): KernelFrame | undefined {
    if (address < KERNEL_BASE) return undefined;
    const hit = this.table.lookup(Number(address - KERNEL_BASE));
    if (hit === undefined) return undefined;
    const tab = hit.indexOf('\t');
    return tab < 0 ? { name: hit, mapping: KERNEL_MAPPING } : { name: hit.slice(0, tab), mapping: hit.slice(tab + 1) };
  }
}

const NL = 10;
const SPACE = 32;

/**
 * Adds the code symbols (types t, T, w, W) of `ffffffff81000000 T _stext\t[module]` lines to a table
 * builder straight from the bytes: the file has 100 000+ lines, and a string, a BigInt and an object
 * per line made loading it cost 5 MiB of heap and a CPU spike each time it was read. A symbol's value
 * is its offset from KERNEL_BASE; its name is `name`, or `name\t[module]` for a module (split on lookup).
 */
function addKallsyms(bytes: Buffer, b: SymbolTableBuilder): void {
  const src = b.source(bytes);
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(NL, start);
    if (end < 0) end = bytes.length;
    const line = start;
    start = end + 1;
    // 16 hex digits, space, type letter, space, name [, tab, [module]]
    if (end - line < 20 || bytes[line + 16] !== SPACE || bytes[line + 18] !== SPACE) continue;
    const type = bytes[line + 17];
    if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue; // t T w W
    // Below KERNEL_BASE (hidden 0 addresses, user-half oddities): not kernel code.
    if (hex(bytes, line, line + 4) !== 0xffff) continue;
    const value = hex(bytes, line + 4, line + 16);
    if (value < 0) continue;
    b.addBytes(value, 0, type === 0x54 ? 1 : 0, src, line + 19, end);
  }
}

/** Value of the hex digits in bytes [from, to) (at most 13, so it fits a double exactly); -1 if not hex. */
function hex(bytes: Buffer, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}
