import { readFileSync } from 'node:fs';
import { buildIdFromNotes } from './elf.js';
import { SymbolTable, type RawSymbol } from './symbol-table.js';

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
    let text = '';
    try {
      text = readFileSync(kallsymsPath, 'latin1');
    } catch {
      // Not readable (e.g. a locked-down host): kernel frames stay unsymbolized.
    }
    let buildId = '';
    try {
      buildId = buildIdFromNotes(readFileSync(notesPath));
    } catch {
      // Build id is a nicety; a kernel without notes still symbolizes.
    }
    return new KernelSymbols(new SymbolTable(parseKallsyms(text), MAX_KERNEL_FUNCTION), buildId);
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
    return tab < 0 ? { name: hit, mapping: KERNEL_MAPPING } : { name: hit.slice(0, tab), mapping: `[${hit.slice(tab + 1)}]` };
  }
}

/** `ffffffff81000000 T _stext [module]` lines → code symbols (types t, T, w, W). */
export function parseKallsyms(text: string): RawSymbol[] {
  const out: RawSymbol[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const a = line.indexOf(' ');
    const type = line[a + 1];
    if (a < 0 || line[a + 2] !== ' ' || (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W')) continue;
    const addr = BigInt(`0x${line.slice(0, a)}`);
    if (addr < KERNEL_BASE) continue; // hidden (0) addresses, or user-half oddities
    const rest = line.slice(a + 3);
    const sp = rest.indexOf('\t');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const mod = sp < 0 ? '' : rest.slice(sp + 1).replace(/^\[|\]$/g, '');
    // Module is carried after a tab in the name so one table serves both; split on lookup.
    out.push({ name: mod ? `${name}\t${mod}` : name, value: Number(addr - KERNEL_BASE), size: 0, rank: type === 'T' ? 1 : 0 });
  }
  return out;
}
