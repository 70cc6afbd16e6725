import { lastAtOrBelow } from './sorted-search.js';

/**
 * An address → function-name table: starts sorted, binary searched. Built from ELF symbols, kallsyms
 * or kallsyms. Kept as typed arrays plus one name array so a table of 100k symbols is a few MB and
 * a lookup is ~17 comparisons.
 */

export interface RawSymbol {
  readonly name: string;
  readonly value: number;
  /** 0 when unknown: the symbol then extends to the next one. */
  readonly size: number;
  /** Higher wins when two symbols share an address (e.g. GLOBAL over LOCAL alias). */
  readonly rank?: number;
}

export class SymbolTable {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly names: string[];

  /**
   * @param maxImplicitSize how far a symbol of unknown size may extend towards the next one; kallsyms
   *   has no sizes, and without a cap the last kernel function would claim every module loaded later.
   */
  constructor(symbols: readonly RawSymbol[], maxImplicitSize = Number.MAX_SAFE_INTEGER) {
    const sorted = [...symbols].sort((a, b) => a.value - b.value || (b.rank ?? 0) - (a.rank ?? 0) || b.size - a.size);
    const starts: number[] = [];
    const sizes: number[] = [];
    const names: string[] = [];
    for (const s of sorted) {
      // One entry per address: the first after sorting is the preferred alias.
      if (starts.length > 0 && starts[starts.length - 1] === s.value) continue;
      starts.push(s.value);
      sizes.push(s.size);
      names.push(s.name);
    }
    this.starts = Float64Array.from(starts);
    this.ends = new Float64Array(starts.length);
    for (let i = 0; i < starts.length; i++) {
      const next = i + 1 < starts.length ? starts[i + 1]! : Number.MAX_SAFE_INTEGER;
      this.ends[i] = sizes[i]! > 0 ? starts[i]! + sizes[i]! : Math.min(next, starts[i]! + maxImplicitSize);
    }
    this.names = names;
  }

  get length(): number {
    return this.names.length;
  }

  /** The function containing `address`, or undefined when it falls in no symbol. */
  lookup(address: number): string | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.names[i];
  }

  /** Start address of the function containing `address` (for tests and offsets), or undefined. */
  startOf(address: number): number | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.starts[i];
  }

  private indexOf(address: number): number {
    const s = this.starts;
    const found = lastAtOrBelow(s, address);
    if (found < 0 || address >= this.ends[found]!) return -1;
    return found;
  }
}
