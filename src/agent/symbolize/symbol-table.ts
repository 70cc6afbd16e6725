import { lastAtOrBelow } from './sorted-search.js';
import { WorkingMemory } from './working-memory.js';
import { keepShapes } from '../kept-shapes.js';
import { BlobNames, FileNames, type NameFile, type SymbolNames } from './symbol-names.js';

/**
 * An address → function-name table: starts sorted, binary searched. Built from ELF symbols, kallsyms
 * or a vdso image. An agent keeps dozens of these for as long as it runs, so a table holds no object
 * per symbol: addresses as 32-bit offsets from the table's lowest one (a binary's code spans far less
 * than 4 GiB; doubles only when it does not), and names either as UTF-8 in one blob or as offsets into
 * the binary's own string table (symbol-names.ts), decoded only when a lookup hits them (callers cache
 * the few names profiles actually show). node's 150 000 C++ symbols then cost ≈ 1.8 MiB instead of ≈ 9.
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
  /** Start and end of symbol i are base + starts[i], base + ends[i]. */
  private readonly base: number;
  private readonly starts: Uint32Array | Float64Array;
  private readonly ends: Uint32Array | Float64Array;
  private readonly names: SymbolNames;

  /**
   * @param symbols the symbols, or a builder holding them as columns (no object per symbol)
   * @param maxImplicitSize how far a symbol of unknown size may extend towards the next one; kallsyms
   *   has no sizes, and without a cap the last kernel function would claim every module loaded later.
   * @param nameFile the binary the builder's file-placed names (SymbolTableBuilder.source) are read
   *   from on lookup instead of being copied; without it every name is copied into the table.
   */
  constructor(symbols: readonly RawSymbol[] | SymbolTableBuilder, maxImplicitSize = Number.MAX_SAFE_INTEGER, nameFile?: NameFile) {
    let b: SymbolTableBuilder;
    if (symbols instanceof SymbolTableBuilder) b = symbols;
    else {
      b = new SymbolTableBuilder();
      for (const s of symbols) b.add(s.name, s.value, s.size, s.rank ?? 0);
    }
    const built = b.columns(maxImplicitSize, nameFile);
    this.base = built.base;
    this.starts = built.starts;
    this.ends = built.ends;
    this.names = built.names;
  }

  get length(): number {
    return this.starts.length;
  }

  /** Bytes held in memory (addresses and names), for cache accounting. */
  get byteSize(): number {
    return this.starts.byteLength + this.ends.byteLength + this.names.byteSize;
  }

  /** Whether names are read from the binary on lookup rather than held. */
  get namesInFile(): boolean {
    return this.names instanceof FileNames;
  }

  /** The function containing `address`, or undefined when it falls in no symbol. */
  lookup(address: number): string | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.names.name(i);
  }

  /** Start address of the function containing `address` (for tests and offsets), or undefined. */
  startOf(address: number): number | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.base + this.starts[i]!;
  }

  private indexOf(address: number): number {
    const at = address - this.base;
    if (at < 0) return -1;
    const found = lastAtOrBelow(this.starts, at);
    if (found < 0 || at >= this.ends[found]!) return -1;
    return found;
  }
}

interface SymbolTableColumns {
  readonly base: number;
  readonly starts: Uint32Array | Float64Array;
  readonly ends: Uint32Array | Float64Array;
  readonly names: SymbolNames;
}

/** Largest offset from a table's base kept in 32 bits. */
const MAX_U32 = 0xffffffff;

/** Where a name comes from: a byte range of a source buffer (an ELF string table, kallsyms text). */
const FROM_STRING = 0xffffffff;

/**
 * Collects symbols as columns: a name is a byte range of a buffer the caller already holds (an ELF
 * string table, the kallsyms text), so loading a table makes no string and no object per symbol —
 * only the names of symbols kept are copied, once, into the table's blob; or, when every kept name
 * lies in the binary the table is given (a NameFile), not copied at all but kept as file offsets.
 */
export class SymbolTableBuilder {
  private n = 0;
  /**
   * The columns are working memory (working-memory.ts), freed once the table is built: node's 150 000
   * symbols made ≈ 11 MiB of arrays dead as soon as its table existed. A builder dropped unbuilt (a
   * load that failed) frees them when collected. Callers read the bytes names come from (string
   * tables, the kallsyms text) into it too: they are needed only until the table is built.
   */
  readonly memory = new WorkingMemory();
  private values = this.memory.doubles(1024);
  private sizes = this.memory.doubles(1024);
  private ranks = this.memory.array(Uint8Array, 1024);
  private sourceOf = this.memory.words(1024);
  private nameStart = this.memory.words(1024);
  private nameEnd = this.memory.words(1024);
  private built = false;

  constructor() {
    unbuiltBuilders.register(this, this.memory, this);
  }
  /** Each source's bytes; undefined for one left in the table's NameFile (fileSource). */
  private readonly sources: (Buffer | undefined)[] = [];
  /** Where each source's bytes start in the table's NameFile; -1 when they are not from it. */
  private readonly sourceFileOffsets: number[] = [];
  private readonly strings: string[] = [];

  get length(): number {
    return this.n;
  }

  /**
   * Registers a buffer names will be read from; returns its handle for addBytes().
   * @param fileOffset where `bytes` start in the binary the table will read names from (the string
   *   table's file offset), or -1 when they come from elsewhere (another file, memory).
   */
  source(bytes: Buffer, fileOffset = -1): number {
    this.sources.push(bytes);
    this.sourceFileOffsets.push(fileOffset);
    return this.sources.length - 1;
  }

  /**
   * Registers names that stay in the binary the table will be given (its NameFile), from `fileOffset`,
   * with no bytes held; returns its handle for addBytes(). A table built from such names without that
   * file throws.
   */
  fileSource(fileOffset: number): number {
    this.sources.push(undefined);
    this.sourceFileOffsets.push(fileOffset);
    return this.sources.length - 1;
  }

  /** Room for `count` symbols in all, made at once: growing by doublings held up to 1.5x the columns at once. */
  reserve(count: number): void {
    if (count > this.values.length) this.resize(count);
  }

  /** A symbol named by bytes [start, end) of source `src`. */
  addBytes(value: number, size: number, rank: number, src: number, start: number, end: number): void {
    const i = this.grow();
    this.values[i] = value;
    this.sizes[i] = size;
    this.ranks[i] = rank;
    this.sourceOf[i] = src;
    this.nameStart[i] = start;
    this.nameEnd[i] = end;
  }

  add(name: string, value: number, size: number, rank: number): void {
    const i = this.grow();
    this.values[i] = value;
    this.sizes[i] = size;
    this.ranks[i] = rank;
    this.sourceOf[i] = FROM_STRING;
    this.nameStart[i] = this.strings.length;
    this.strings.push(name);
  }

  /** Sorted, one entry per address (the preferred alias: higher rank, then larger size), names packed. */
  columns(maxImplicitSize: number, nameFile?: NameFile): SymbolTableColumns {
    if (this.built) throw new Error('a symbol table builder builds one table');
    this.built = true;
    try {
      return this.columnsOnce(maxImplicitSize, nameFile);
    } finally {
      unbuiltBuilders.unregister(this);
      this.memory.release();
    }
  }

  private columnsOnce(maxImplicitSize: number, nameFile?: NameFile): SymbolTableColumns {
    const { values, sizes, ranks } = this;
    const order = sortedByValue(values, this.n, this.memory);
    // Runs of one address: keep the preferred alias (higher rank, then larger size).
    let kept = 0;
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (kept > 0) {
        const j = order[kept - 1]!;
        if (values[j] === values[i]) {
          if (ranks[i]! > ranks[j]! || (ranks[i] === ranks[j] && sizes[i]! > sizes[j]!)) order[kept - 1] = i;
          continue;
        }
      }
      order[kept++] = i;
    }
    const base = kept > 0 ? values[order[0]!]! : 0;
    const span = kept > 0 ? values[order[kept - 1]!]! - base : 0;
    // 32-bit offsets from the lowest address: half the bytes of doubles, for any table spanning < 4 GiB.
    const compact = span <= MAX_U32;
    const starts = compact ? new Uint32Array(kept) : new Float64Array(kept);
    const ends = compact ? new Uint32Array(kept) : new Float64Array(kept);
    const limit = compact ? MAX_U32 : Number.MAX_SAFE_INTEGER;
    for (let k = 0; k < kept; k++) starts[k] = values[order[k]!]! - base;
    for (let k = 0; k < kept; k++) {
      const size = sizes[order[k]!]!;
      const next = k + 1 < kept ? starts[k + 1]! : limit;
      ends[k] = Math.min(limit, size > 0 ? starts[k]! + size : Math.min(next, starts[k]! + maxImplicitSize));
    }
    // Addresses, sizes and ranks are done with: freed before the names are packed (the kernel's 121 000
    // symbols: 2 MiB, beside its 5 MiB of kallsyms text and the 3 MiB blob being filled).
    for (const column of [values, sizes, ranks]) this.memory.drop(column);
    const names = (nameFile && this.fileNames(order, kept, nameFile)) ?? this.blobNames(order, kept, nameFile);
    return { base, starts, ends, names };
  }

  /** Names as file offsets, when every kept one lies in `file` (else undefined: they are copied). */
  private fileNames(order: Uint32Array, kept: number, file: NameFile): FileNames | undefined {
    const offsets = new Uint32Array(kept);
    for (let k = 0; k < kept; k++) {
      const i = order[k]!;
      const src = this.sourceOf[i]!;
      const at = src === FROM_STRING ? -1 : this.sourceFileOffsets[src]!;
      if (at < 0 || at + this.nameEnd[i]! > Math.min(file.size, MAX_U32)) return undefined;
      offsets[k] = at + this.nameStart[i]!;
    }
    return new FileNames(file, offsets);
  }

  private blobNames(order: Uint32Array, kept: number, nameFile: NameFile | undefined): BlobNames {
    // Strings (Go's and kallsyms' callers') are encoded straight into the blob: a Buffer per name
    // first was 23 000 short-lived allocations for one Go binary.
    let total = 0;
    for (let k = 0; k < kept; k++) total += this.nameLength(order[k]!);
    const nameBytes = Buffer.allocUnsafeSlow(total); // its own memory: not a slice pinning a shared pool
    const nameOffsets = new Uint32Array(kept + 1);
    let at = 0;
    for (let k = 0; k < kept; k++) {
      const i = order[k]!;
      nameOffsets[k] = at;
      const src = this.sourceOf[i]!;
      if (src === FROM_STRING) at += nameBytes.write(this.strings[this.nameStart[i]!]!, at, 'utf8');
      else at += this.copyName(src, this.nameStart[i]!, this.nameEnd[i]!, nameBytes, at, nameFile);
    }
    nameOffsets[kept] = at;
    return new BlobNames(nameOffsets, nameBytes);
  }

  /**
   * Bytes of symbol i's name. A method, not a closure made per table: that closure's optimized code was
   * dropped at each full GC and made again for the next table.
   */
  private nameLength(i: number): number {
    return this.sourceOf[i] === FROM_STRING ? Buffer.byteLength(this.strings[this.nameStart[i]!]!, 'utf8') : this.nameEnd[i]! - this.nameStart[i]!;
  }

  /**
   * Copies a name's bytes into `into` at `at`; returns their count. A name left in the file is read from
   * it: only when a table mixes such names with copied ones, or its file is past 4 GiB (binary.ts leaves
   * names unread only when neither is expected).
   */
  private copyName(src: number, start: number, end: number, into: Buffer, at: number, nameFile: NameFile | undefined): number {
    const bytes = this.sources[src];
    if (bytes) return bytes.copy(into, at, start, end);
    if (!nameFile) throw new Error('a symbol table with names left in a file was built without that file');
    const name = into.subarray(at, at + end - start);
    if (!nameFile.readAt(this.sourceFileOffsets[src]! + start, name)) name.fill(0x3f); // '?': the file shrank since
    return name.length;
  }

  private grow(): number {
    if (this.n === this.values.length) this.resize(this.n * 2);
    return this.n++;
  }

  private resize(cap: number): void {
    const m = this.memory;
    this.values = m.grown(this.values, this.n, cap);
    this.sizes = m.grown(this.sizes, this.n, cap);
    this.ranks = m.grown(this.ranks, this.n, cap);
    this.sourceOf = m.grown(this.sourceOf, this.n, cap);
    this.nameStart = m.grown(this.nameStart, this.n, cap);
    this.nameEnd = m.grown(this.nameEnd, this.n, cap);
  }
}

/** Byte order of this machine's 64-bit integers (the packed sort writes them as 32-bit halves). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Frees the working memory of builders collected without building their table. */
const unbuiltBuilders = new FinalizationRegistry<WorkingMemory>((memory) => memory.release());

/**
 * Indices 0..n-1 ordered by value (ties by index). Sorting with a comparator costs a JS call per
 * comparison — 30–45 ms for node's 150 000 symbols; packing (value − min, index) into one 64-bit
 * integer lets the engine's numeric sort do it (a BigUint64Array sorts 78 000 in ≈ 5 ms here, a
 * Float64Array in 10–20). The packed integers are written as two 32-bit halves, not made as a BigInt
 * each: the BigInts were a third of node's whole table load (32 of 90 ms). Falls back to BigInts past
 * 53 bits of packing, and to the comparator past 64.
 */
function sortedByValue(values: Float64Array, n: number, memory: WorkingMemory): Uint32Array {
  const order = memory.words(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** indexBits;
  if (n > 0 && indexBits <= 32 && (max - min + 1) * scale <= Number.MAX_SAFE_INTEGER) {
    const packed = memory.array(BigUint64Array, n);
    const halves = new Uint32Array(packed.buffer, packed.byteOffset, n * 2);
    const [lo, hi] = LITTLE_ENDIAN ? [0, 1] : [1, 0];
    for (let i = 0; i < n; i++) {
      const x = (values[i]! - min) * scale + i; // exact: below 2^53
      halves[2 * i + lo] = x % 2 ** 32;
      halves[2 * i + hi] = Math.floor(x / 2 ** 32);
    }
    packed.sort();
    for (let k = 0; k < n; k++) order[k] = halves[2 * k + lo]! % scale;
    memory.drop(packed);
    return order;
  }
  if (n > 0 && max - min < 2 ** (64 - indexBits)) {
    const packed = memory.array(BigUint64Array, n);
    const shift = BigInt(indexBits);
    for (let i = 0; i < n; i++) packed[i] = (BigInt(values[i]! - min) << shift) | BigInt(i);
    packed.sort();
    const mask = (1n << shift) - 1n;
    for (let k = 0; k < n; k++) order[k] = Number(packed[k]! & mask);
    memory.drop(packed);
    return order;
  }
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => values[a]! - values[b]! || a - b);
}

// A builder and the columns it returns live only while a table loads: one of each held, built empty (its
// working memory released), so that a GC between two loads does not drop the code compiled for their
// shapes (kept-shapes.ts).
{
  const builder = new SymbolTableBuilder();
  keepShapes(builder, builder.columns(0));
}
