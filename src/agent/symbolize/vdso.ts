import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { ElfFile } from './elf.js';
import { SymbolTable, SymbolTableBuilder } from './symbol-table.js';

export const VDSO_MAPPING = '[vdso]';

/**
 * The vdso: a small ELF image the kernel maps into every process (clock_gettime, gettimeofday …), found
 * in no file. Every 64-bit process of one kernel gets the same image, so the agent reads its own copy
 * from /proc/self/mem once and uses it for all.
 */
export interface VdsoImage {
  readonly buildId: string;
  readonly table: SymbolTable;
  /** ELF address of an offset into the image. */
  toVaddr(offset: number): number | undefined;
}

/** The bytes of this process's vdso (the same image as every 64-bit process's on this kernel). */
export function readOwnVdsoImage(): Buffer | undefined {
  try {
    const line = readFileSync('/proc/self/maps', 'latin1')
      .split('\n')
      .find((l) => l.endsWith(VDSO_MAPPING));
    if (!line) return undefined;
    const [start, end] = line.split(' ')[0]!.split('-').map((x) => parseInt(x, 16)) as [number, number];
    const bytes = Buffer.alloc(end - start);
    const fd = openSync('/proc/self/mem', 'r');
    try {
      readSync(fd, bytes, 0, bytes.length, start);
    } finally {
      closeSync(fd);
    }
    return bytes;
  } catch {
    return undefined;
  }
}

export function loadOwnVdso(): VdsoImage | undefined {
  try {
    const bytes = readOwnVdsoImage();
    if (!bytes) return undefined;
    const elf = ElfFile.fromBuffer(VDSO_MAPPING, bytes);
    const symbols = new SymbolTableBuilder();
    elf.functionSymbolsInto(symbols);
    const table = new SymbolTable(symbols);
    return { buildId: elf.buildId(), table, toVaddr: (offset) => elf.fileOffsetToVaddr(offset) };
  } catch {
    return undefined; // no vdso, or /proc/self/mem not readable: vdso frames keep their offset
  }
}
