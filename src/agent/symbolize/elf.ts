import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { WorkingMemory } from './working-memory.js';
import { keepShapes } from '../kept-shapes.js';
import type { SymbolTableBuilder } from './symbol-table.js';

/**
 * A small ELF64 little-endian reader: just what symbolization needs (program headers to turn file
 * offsets into virtual addresses, section headers to find symbol tables, the GNU build id note and
 * `.gnu_debuglink`). It reads ranges with pread instead of loading the file, so a 100 MB binary costs
 * only its headers and symbol tables. Every offset is checked against the file size: a truncated or
 * hostile file gives an ElfFormatError, never a crash or a huge allocation.
 */

export class ElfFormatError extends Error {
  constructor(path: string, what: string) {
    super(`${path}: not a usable ELF64 file (${what})`);
    this.name = 'ElfFormatError';
  }
}

export interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

export interface SectionHeader {
  readonly name: string;
  readonly type: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

/** A raw symbol from `.symtab` / `.dynsym` that names code. */
export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly bind: number;
}

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

// Caps that no real binary reaches but that bound the work a corrupt header can ask for.
const MAX_HEADERS = 65_535;
const MAX_TABLE_BYTES = 512 * 1024 * 1024;
/** Bytes of a symbol table read at a time (whole 24-byte entries). */
const SYMBOL_WINDOW = 24 * 8192;
/** Bytes of a string table scanned at a time when its names are not held, and how far past a window a name is looked for before reading on. */
const STRING_WINDOW = 1 << 20;
const NAME_TAIL = 4096;

/** Where a symbol table builder's names come from (ElfFile.functionSymbolsInto). */
export type NamePlacement = 'copied' | 'placed' | 'unread';

/** Where ELF bytes come from: a file (pread) or memory (a vdso image). */
interface ByteSource {
  readonly size: number;
  /** Fills `into` from `offset`; returns bytes read (0 at the end). */
  read(into: Buffer, at: number, length: number, offset: number): number;
  close(): void;
}

export class ElfFile {
  readonly size: number;
  /** `dev:inode` of an opened file ('' for an image in memory): which file was read, whatever the path. */
  readonly identity: string;
  readonly type: number;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly source: ByteSource,
    identity = '',
  ) {
    this.size = source.size;
    this.identity = identity;
    const h = this.read(0, 64, 'header');
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new ElfFormatError(path, 'no ELF magic');
    if (h[4] !== 2) throw new ElfFormatError(path, 'not 64-bit');
    if (h[5] !== 1) throw new ElfFormatError(path, 'not little-endian');
    this.type = h.readUInt16LE(16);
    this.programHeaders = this.readProgramHeaders(h);
    this.sections = this.readSections(h);
  }

  /** Opens and parses the headers; the caller must `close()` (or use `withElf`). */
  static open(path: string): ElfFile {
    const fd = openSync(path, 'r');
    const source: ByteSource = {
      size: 0,
      read: (into, at, length, offset) => readSync(fd, into, at, length, offset),
      close: () => closeSync(fd),
    };
    try {
      const st = fstatSync(fd);
      return new ElfFile(path, { ...source, size: st.size }, fileIdentity(st));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** An ELF image already in memory, e.g. the vdso the kernel maps into every process. */
  static fromBuffer(name: string, bytes: Buffer): ElfFile {
    return new ElfFile(name, {
      size: bytes.length,
      read: (into, at, length, offset) => bytes.copy(into, at, offset, Math.min(offset + length, bytes.length)),
      close: () => undefined,
    });
  }

  close(): void {
    if (!this.closed) this.source.close();
    this.closed = true;
  }

  section(name: string): SectionHeader | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The GNU build id as lowercase hex, from a note section or PT_NOTE segment; '' when absent. */
  buildId(): string {
    const ranges: Array<[number, number]> = [];
    for (const s of this.sections) if (s.type === SHT_NOTE) ranges.push([s.offset, s.size]);
    if (ranges.length === 0) for (const p of this.programHeaders) if (p.type === PT_NOTE) ranges.push([p.offset, p.filesz]);
    for (const [off, len] of ranges) {
      if (len > 1 << 20) continue;
      const id = findBuildIdNote(this.read(off, len, 'note'));
      if (id) return id;
    }
    return '';
  }

  /** The `.gnu_debuglink` file name (the CRC is not checked: build ids identify debug files better). */
  debugLink(): string {
    const s = this.section('.gnu_debuglink');
    if (!s || s.size > 4096) return '';
    const b = this.read(s.offset, s.size, '.gnu_debuglink');
    const end = b.indexOf(0);
    return b.toString('utf8', 0, end < 0 ? b.length : end);
  }

  /**
   * The bytes of a section (empty for NOBITS), or undefined when the file has no such section.
   * @param memory read into this working memory (valid until it is released) instead of a buffer of
   *   its own, for a section that is parsed and not kept.
   */
  sectionData(name: string, memory?: WorkingMemory): Buffer | undefined {
    const s = this.section(name);
    return s ? this.read(s.offset, s.size, name, memory) : undefined;
  }

  hasSymtab(): boolean {
    const s = this.section('.symtab');
    return s !== undefined && s.type === SHT_SYMTAB && s.size > 0;
  }

  /** Code symbols (FUNC, IFUNC) defined in this file from `.symtab` and `.dynsym`. */
  functionSymbols(): ElfSymbol[] {
    const out: ElfSymbol[] = [];
    for (const [s, strtab] of this.symbolTables()) this.readSymbols(s, strtab, out);
    return out;
  }

  /**
   * The same symbols as functionSymbols(), added to a table builder as byte ranges of the string
   * tables: loading a large binary's table makes no string or object per symbol.
   * @param names where the builder's names come from: 'copied', the string tables read and held until the
   *   table is built, its names copied (a separate debug file's, a vdso image's); 'placed', the same, and
   *   the builder told where each string table lies in this file, so the table can read names from it on
   *   lookup (binary.ts) instead of keeping a copy; 'unread', placed and never held — each string table
   *   is scanned in windows for where its names end, and the table must be given this file to read
   *   them from (node's .strtab is 7.2 MiB, held whole until its table was built).
   */
  functionSymbolsInto(b: SymbolTableBuilder, names: NamePlacement = 'copied'): void {
    if (names === 'unread') return this.functionsOfUnreadStrings(b);
    for (const [s, strtab] of this.symbolTables()) {
      // Needed only until the table is built (names are then copied or read back from the file).
      const strs = this.read(strtab.offset, strtab.size, 'string table', b.memory);
      const src = b.source(strs, names === 'placed' ? strtab.offset : -1);
      const memory = new WorkingMemory();
      try {
        const c = this.functionEntries(s, memory);
        while (this.nextNamedFunction(c, strs)) b.addBytes(c.value(), c.size(), bindRank(c.bind()), src, c.nameOff(), c.nameEnd);
      } finally {
        memory.release();
      }
    }
  }

  /** Each symbol table (.symtab, .dynsym) with its string table. */
  private symbolTables(): Array<[SectionHeader, SectionHeader]> {
    const out: Array<[SectionHeader, SectionHeader]> = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const strtab = this.sections[s.link];
      if (strtab && strtab.type !== SHT_NOBITS && s.entsize === 24) out.push([s, strtab]);
    }
    return out;
  }

  /**
   * functionSymbolsInto's 'unread' form. Each symbol table's entries are read three times in windows:
   * their name offsets (every table's first, so the builder grows once, to its final size: doublings
   * held the old and new columns at once); then, its string table scanned in windows, where each name
   * ends; then the symbols added in table order, readSymbols' order, so the same alias wins a tie.
   * A damaged table throws as the 'placed' form does: after the tables before it are added.
   */
  private functionsOfUnreadStrings(b: SymbolTableBuilder): void {
    // Working memory freed in `finally`, not through withWorkingMemory: a callback made per call holding
    // these loops was optimized (OSR) again at each load, its code dropped with the callback (stop 31).
    const memory = new WorkingMemory();
    try {
      const found: Array<{ table: SectionHeader; strtab: SectionHeader; nameOffsets: Uint32Array; m: number }> = [];
      let damage: unknown;
      try {
        for (const [table, strtab] of this.symbolTables()) {
          this.checkRange(strtab.offset, strtab.size, 'string table');
          const nameOffsets = memory.words(Math.floor(table.size / 24));
          let m = 0;
          const c = this.functionEntries(table, memory);
          while (this.nextFunction(c)) {
            const nameOff = c.nameOff();
            if (nameOff < strtab.size) nameOffsets[m++] = nameOff;
          }
          c.done(memory);
          found.push({ table, strtab, nameOffsets, m });
        }
      } catch (e) {
        damage = e;
      }
      let total = 0;
      for (const f of found) total += f.m;
      b.reserve(b.length + total);
      for (const { table, strtab, nameOffsets, m } of found) {
        const ends = this.stringEnds(strtab, nameOffsets, m, memory);
        const src = b.fileSource(strtab.offset);
        let k = 0;
        const c = this.functionEntries(table, memory);
        while (this.nextFunction(c)) {
          const nameOff = c.nameOff();
          if (nameOff >= strtab.size) continue;
          const end = ends[k++]!;
          if (end !== nameOff) b.addBytes(c.value(), c.size(), bindRank(c.bind()), src, nameOff, end);
        }
        c.done(memory);
        memory.drop(ends);
        memory.drop(nameOffsets);
      }
      if (damage !== undefined) throw damage;
    } finally {
      memory.release();
    }
  }

  /**
   * Where each string at `offsets[0..m)` of a string table ends (its NUL, else the table's end), the
   * table read in windows of STRING_WINDOW (+ NAME_TAIL for a name crossing a window's end): the
   * offsets are bucketed by window first (a counting sort), so each window is read once.
   */
  private stringEnds(strtab: SectionHeader, offsets: Uint32Array, m: number, memory: WorkingMemory): Uint32Array {
    const windows = Math.max(1, Math.ceil(strtab.size / STRING_WINDOW));
    const firstOf = memory.words(windows + 1).fill(0);
    for (let k = 0; k < m; k++) firstOf[Math.floor(offsets[k]! / STRING_WINDOW) + 1]!++;
    for (let w = 0; w < windows; w++) firstOf[w + 1]! += firstOf[w]!;
    const byWindow = memory.words(m);
    const next = memory.words(windows);
    next.set(firstOf.subarray(0, windows));
    for (let k = 0; k < m; k++) byWindow[next[Math.floor(offsets[k]! / STRING_WINDOW)]!++] = k;
    const ends = memory.words(m);
    const buf = memory.bytes(Math.min(strtab.size, STRING_WINDOW + NAME_TAIL));
    for (let w = 0; w < windows; w++) {
      if (firstOf[w] === firstOf[w + 1]) continue;
      const from = w * STRING_WINDOW;
      const window = buf.subarray(0, Math.min(buf.length, strtab.size - from));
      this.readInto(window, strtab.offset + from, 'string table');
      for (let j = firstOf[w]!; j < firstOf[w + 1]!; j++) {
        const k = byWindow[j]!;
        const end = window.indexOf(0, offsets[k]! - from);
        if (end >= 0) ends[k] = from + end;
        else if (from + window.length === strtab.size) ends[k] = strtab.size;
        else ends[k] = this.stringEndPast(strtab, from + window.length, memory);
      }
    }
    for (const scratch of [buf, byWindow, next, firstOf]) memory.drop(scratch);
    return ends;
  }

  /** The end of a string still open at `at` of a string table: its NUL past there, else the table's end. */
  private stringEndPast(strtab: SectionHeader, at: number, memory: WorkingMemory): number {
    const chunk = memory.bytes(NAME_TAIL);
    for (let o = at; o < strtab.size; o += chunk.length) {
      const piece = chunk.subarray(0, Math.min(chunk.length, strtab.size - o));
      this.readInto(piece, strtab.offset + o, 'string table');
      const nul = piece.indexOf(0);
      if (nul >= 0) {
        memory.drop(chunk);
        return o + nul;
      }
    }
    memory.drop(chunk);
    return strtab.size;
  }

  private readSymbols(table: SectionHeader, strtab: SectionHeader, out: ElfSymbol[]): void {
    const strs = this.read(strtab.offset, strtab.size, 'string table');
    const memory = new WorkingMemory();
    try {
      const c = this.functionEntries(table, memory);
      while (this.nextNamedFunction(c, strs)) out.push({ name: strs.toString('utf8', c.nameOff(), c.nameEnd), value: c.value(), size: c.size(), bind: c.bind() });
    } finally {
      memory.release();
    }
  }

  /**
   * A walk over a symbol table's defined code symbols (nextFunction). The entries are read in windows of
   * SYMBOL_WINDOW into `memory` (node's .symtab is 2.5 MiB: read whole it sat beside the string table
   * until the table was built). A cursor, not a callback per symbol: callbacks made per call were
   * optimized again at each symbol load once their code was dropped with them (stop 31: 9-12 times each).
   */
  private functionEntries(table: SectionHeader, memory: WorkingMemory): FunctionEntryCursor {
    this.checkRange(table.offset, table.size, table.name);
    const entries = Math.floor(table.size / 24);
    return new FunctionEntryCursor(table, entries, memory.bytes(Math.min(entries * 24, SYMBOL_WINDOW)));
  }

  /** Moves `c` to the next defined code symbol (false: none left), reading the next window as needed. */
  private nextFunction(c: FunctionEntryCursor): boolean {
    for (;;) {
      c.o += 24;
      if (c.o >= c.syms.length) {
        c.first += c.syms.length / 24;
        if (c.first >= c.entries) return false;
        c.syms = c.buf.subarray(0, Math.min(SYMBOL_WINDOW, (c.entries - c.first) * 24));
        this.readInto(c.syms, c.table.offset + c.first * 24, c.table.name);
        c.o = 0;
      }
      if (isDefinedFunction(c.syms, c.o)) return true;
    }
  }

  /** nextFunction, skipping symbols without a name in `strs`; `c.nameEnd` is set to where the name ends. */
  private nextNamedFunction(c: FunctionEntryCursor, strs: Buffer): boolean {
    while (this.nextFunction(c)) {
      const nameOff = c.nameOff();
      if (nameOff >= strs.length) continue;
      let end = strs.indexOf(0, nameOff);
      if (end < 0) end = strs.length;
      if (end === nameOff) continue;
      c.nameEnd = end;
      return true;
    }
    return false;
  }

  /**
   * Defined symbols of any type (data too) with one of `names`, from `.dynsym` then `.symtab`: what an
   * interpreter reader needs (CPython's _PyRuntime is an object, its eval loop a function).
   */
  namedSymbols(names: ReadonlySet<string>): Map<string, { value: number; size: number }> {
    const out = new Map<string, { value: number; size: number }>();
    const order = [...this.sections].sort((a, b) => (a.type === SHT_DYNSYM ? 0 : 1) - (b.type === SHT_DYNSYM ? 0 : 1));
    for (const s of order) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const strtab = this.sections[s.link];
      if (!strtab || strtab.type === SHT_NOBITS || s.entsize !== 24) continue;
      const strs = this.read(strtab.offset, strtab.size, 'string table');
      const syms = this.read(s.offset, s.size, s.name);
      for (let o = 0; o + 24 <= syms.length && out.size < names.size; o += 24) {
        if (syms.readUInt16LE(o + 6) === 0) continue; // undefined here
        const nameOff = syms.readUInt32LE(o);
        if (nameOff >= strs.length) continue;
        let end = strs.indexOf(0, nameOff);
        if (end < 0) end = strs.length;
        const name = strs.toString('latin1', nameOff, end);
        if (!names.has(name) || out.has(name)) continue;
        out.set(name, { value: syms.readUInt32LE(o + 8) + syms.readUInt32LE(o + 12) * 2 ** 32, size: syms.readUInt32LE(o + 16) + syms.readUInt32LE(o + 20) * 2 ** 32 });
      }
    }
    return out;
  }

  /** Bytes at a virtual address (through the PT_LOAD segment holding it), undefined when not in the file. */
  readAtVaddr(vaddr: number, length: number): Buffer | undefined {
    for (const p of this.programHeaders) {
      if (p.type === PT_LOAD && vaddr >= p.vaddr && vaddr + length <= p.vaddr + p.filesz) return this.read(vaddr - p.vaddr + p.offset, length, 'data');
    }
    return undefined;
  }

  /** Virtual address of a file offset, via the PT_LOAD segment holding it; undefined when none does. */
  fileOffsetToVaddr(fileOffset: number): number | undefined {
    for (const p of this.programHeaders) {
      if (p.type === PT_LOAD && fileOffset >= p.offset && fileOffset < p.offset + Math.max(p.filesz, 1)) {
        return fileOffset - p.offset + p.vaddr;
      }
    }
    return undefined;
  }

  private read(offset: number, length: number, what: string, memory?: WorkingMemory): Buffer {
    this.checkRange(offset, length, what);
    const b = memory ? memory.bytes(length) : Buffer.allocUnsafe(length);
    this.readInto(b, offset, what);
    return b;
  }

  /** Throws unless [offset, offset + length) lies in the file and is no larger than a table can be. */
  private checkRange(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || length > MAX_TABLE_BYTES || offset + length > this.size) {
      throw new ElfFormatError(this.path, `${what} at ${offset}+${length} is outside the file`);
    }
  }

  /** Fills `into` with the file's bytes from `offset` (checked by the caller). */
  private readInto(into: Buffer, offset: number, what: string): void {
    let done = 0;
    while (done < into.length) {
      const n = this.source.read(into, done, into.length - done, offset + done);
      if (n === 0) throw new ElfFormatError(this.path, `${what} truncated`);
      done += n;
    }
  }

  private readProgramHeaders(h: Buffer): ProgramHeader[] {
    const off = Number(h.readBigUInt64LE(32));
    const entsize = h.readUInt16LE(54);
    const count = h.readUInt16LE(56);
    if (count === 0) return [];
    if (entsize < 56 || count > MAX_HEADERS) throw new ElfFormatError(this.path, 'bad program header table');
    const b = this.read(off, entsize * count, 'program headers');
    const out: ProgramHeader[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * entsize;
      out.push({
        type: b.readUInt32LE(o),
        flags: b.readUInt32LE(o + 4),
        offset: Number(b.readBigUInt64LE(o + 8)),
        vaddr: Number(b.readBigUInt64LE(o + 16)),
        filesz: Number(b.readBigUInt64LE(o + 32)),
        memsz: Number(b.readBigUInt64LE(o + 40)),
      });
    }
    return out;
  }

  private readSections(h: Buffer): SectionHeader[] {
    const off = Number(h.readBigUInt64LE(40));
    const entsize = h.readUInt16LE(58);
    const count = h.readUInt16LE(60);
    const strndx = h.readUInt16LE(62);
    if (count === 0 || off === 0) return [];
    if (entsize < 64 || count > MAX_HEADERS) throw new ElfFormatError(this.path, 'bad section header table');
    const b = this.read(off, entsize * count, 'section headers');
    const raw = [];
    for (let i = 0; i < count; i++) {
      const o = i * entsize;
      raw.push({
        nameOff: b.readUInt32LE(o),
        type: b.readUInt32LE(o + 4),
        addr: Number(b.readBigUInt64LE(o + 16)),
        offset: Number(b.readBigUInt64LE(o + 24)),
        size: Number(b.readBigUInt64LE(o + 32)),
        link: b.readUInt32LE(o + 40),
        entsize: Number(b.readBigUInt64LE(o + 56)),
      });
    }
    const shstr = raw[strndx];
    const names = shstr && shstr.type !== SHT_NOBITS && shstr.size < 1 << 20 ? this.read(shstr.offset, shstr.size, 'section names') : Buffer.alloc(0);
    return raw.map((s) => {
      let end = names.indexOf(0, s.nameOff);
      if (end < 0) end = names.length;
      const name = s.nameOff < names.length ? names.toString('utf8', s.nameOff, end) : '';
      // NOBITS sections (.bss, and every section of a --only-keep-debug file's code) have no bytes.
      return { name, type: s.type, addr: s.addr, offset: s.offset, size: s.type === SHT_NOBITS ? 0 : s.size, link: s.link, entsize: s.entsize };
    });
  }
}

/** `dev:inode`: the same for every path (host, /proc/PID/root/…) that reaches one file. */
export function fileIdentity(st: { readonly dev: number; readonly ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** Preference among symbols sharing an address: GLOBAL over WEAK over LOCAL aliases. */
export function bindRank(bind: number): number {
  return bind === STB_GLOBAL ? 2 : bind === STB_WEAK ? 1 : 0;
}

/** Runs `fn` on an opened ELF file and closes it whatever happens. */
export function withElf<T>(path: string, fn: (elf: ElfFile) => T): T {
  const elf = ElfFile.open(path);
  try {
    return fn(elf);
  } finally {
    elf.close();
  }
}

/**
 * Where ElfFile.nextFunction is in a symbol table: the window of entries read (`syms`, from entry `first`)
 * and the current entry's offset in it. Only integers leave it (no double is boxed per symbol).
 */
class FunctionEntryCursor {
  syms: Buffer;
  first = 0;
  o = 0;
  /** Set by nextNamedFunction: the end of the current symbol's name in the string table. */
  nameEnd = 0;

  constructor(
    readonly table: SectionHeader,
    readonly entries: number,
    readonly buf: Buffer,
  ) {
    this.syms = buf.subarray(0, 0);
  }

  value(): number {
    return addressAt(this.syms, this.o + 8);
  }

  size(): number {
    return addressAt(this.syms, this.o + 16);
  }

  bind(): number {
    return this.syms[this.o + 4]! >> 4;
  }

  nameOff(): number {
    return this.syms.readUInt32LE(this.o);
  }

  /** Its window's memory back to `memory` (the cursor is not used again). */
  done(memory: WorkingMemory): void {
    memory.drop(this.buf);
  }
}

/** Whether the symbol table entry at `o` is a defined code symbol (FUNC, IFUNC) with an address. */
function isDefinedFunction(syms: Buffer, o: number): boolean {
  const type = syms[o + 4]! & 0xf;
  if (type !== STT_FUNC && type !== STT_GNU_IFUNC) return false;
  if (syms.readUInt16LE(o + 6) === 0) return false; // SHN_UNDEF: imported, defined elsewhere
  return addressAt(syms, o + 8) !== 0;
}

/** Walks ELF notes (namesz, descsz, type, name, desc; 4-byte aligned) for the GNU build id. */
function findBuildIdNote(b: Buffer): string {
  let o = 0;
  while (o + 12 <= b.length) {
    const namesz = b.readUInt32LE(o);
    const descsz = b.readUInt32LE(o + 4);
    const type = b.readUInt32LE(o + 8);
    const nameStart = o + 12;
    const descStart = nameStart + align4(namesz);
    const next = descStart + align4(descsz);
    if (next > b.length || next <= o) return '';
    if (type === NT_GNU_BUILD_ID && namesz === 4 && b.toString('latin1', nameStart, nameStart + 3) === 'GNU') {
      return b.toString('hex', descStart, descStart + descsz);
    }
    o = next;
  }
  return '';
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Build id of a raw notes blob such as /sys/kernel/notes (the running kernel's). */
export function buildIdFromNotes(notes: Buffer): string {
  return findBuildIdNote(notes);
}

/** A symbol's 64-bit field at `o` as two 32-bit halves instead of a BigInt: user-space addresses fit a double. */
function addressAt(syms: Buffer, o: number): number {
  return syms.readUInt32LE(o) + syms.readUInt32LE(o + 4) * 2 ** 32;
}

// An ElfFile, its section headers and a symbol walk's cursor live only while a binary is read: one of each
// held (kept-shapes.ts) so that a GC between two binaries does not drop the code compiled for them. The
// file is an empty image: a 64-bit little-endian header with no program or section headers.
{
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2;
  header[5] = 1;
  const file = ElfFile.fromBuffer('', header);
  file.close();
  const raw = { nameOff: 0, type: 0, addr: 0, offset: 0, size: 0, link: 0, entsize: 0 };
  const section: SectionHeader = { name: '', type: raw.type, addr: raw.addr, offset: raw.offset, size: raw.size, link: raw.link, entsize: raw.entsize };
  keepShapes(file, raw, section, new FunctionEntryCursor(section, 0, header.subarray(0, 0)));
}
