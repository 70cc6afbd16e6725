import type { ElfFile } from '../symbolize/elf.js';
import { WorkingMemory } from '../symbolize/working-memory.js';
import { keepShapes } from '../kept-shapes.js';
import { CfiEntries, REG_RBP, REG_RSP, RULE, type CfiSection, type CfiSink, type RuleState } from './cfi.js';

/**
 * Compact unwind rows: what the BPF walker (bpf/unwind.h, struct unwind_row) reads for each address
 * range of a binary — where the CFA is (rsp or rbp + offset) and where the caller's rbp was saved; the
 * return address is always at CFA − 8 on x86_64. 8 bytes a row, sorted by pc, consecutive equal rules
 * merged, a "no info" row where one function's FDE ends and no other begins.
 *
 * Measured on Debian 12 (warm JIT, shared 2-core host): python3.11 (0.4 MB .eh_frame) → 64.6 k rows in
 * 57 ms; libc.so.6 → 28.3 k rows; node 20 (2.7 MB .eh_frame) → 372 k rows in ≈ 0.4 s. Cold (first
 * binary the agent parses) the same work takes 3–8× longer.
 */

export const ROW_BYTES = 8;

/** Mirrors the ROW_* enum of bpf/unwind.h. */
export const ROW = { none: 0, cfaRsp: 1, cfaRbp: 2, cfaPlt: 3, end: 4, unsupported: 5, cfaRspX8: 6 } as const;

export interface UnwindTable {
  /** `count` packed rows (u32 pc, s16 cfa offset, u8 type, s8 rbp offset / 8). */
  readonly rows: Buffer;
  readonly count: number;
  /** Rows the walker cannot follow (expressions other than the PLT's, CFA in another register). */
  readonly unsupported: number;
  /** Present when `rows` are working memory (compileRows with keep = false): frees them; call once, after the last use. */
  readonly release?: () => void;
}

/**
 * The PLT's CFA expression, as binutils and lld emit it for `.plt` entries:
 * rsp + 8 + ((rip & 15) >= 11 ? 8 : 0) — 8 more once the entry's push has run.
 */
const PLT_EXPRESSION = Buffer.from([0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22]);

/** The packed second word of a row (s16 cfa offset | u8 type << 16 | s8 rbp offset/8 << 24) for a rule state. */
export function encodeRule(s: RuleState): number {
  if (s.ra === RULE.undefined) return pack(ROW.end, 0, 0);
  if (s.ra !== RULE.offset || s.raOff !== -8) return UNSUPPORTED;
  let type: number;
  let cfaOff = 0;
  if (s.cfaExpr) {
    if (!s.cfaExpr.equals(PLT_EXPRESSION)) return UNSUPPORTED;
    type = ROW.cfaPlt;
    cfaOff = 8;
  } else {
    if (s.cfaReg === REG_RSP) type = ROW.cfaRsp;
    else if (s.cfaReg === REG_RBP) type = ROW.cfaRbp;
    else return UNSUPPORTED;
    cfaOff = s.cfaOff;
    if (cfaOff < -32768 || cfaOff > 32767) {
      // Frames past 32 KiB (a few in libc: 33 360 bytes): in units of 8, which rsp offsets are.
      if (type !== ROW.cfaRsp || cfaOff % 8 !== 0 || cfaOff / 8 > 32767 || cfaOff < 0) return UNSUPPORTED;
      type = ROW.cfaRspX8;
      cfaOff /= 8;
    }
  }
  let rbp = 0;
  if (s.rbp === RULE.offset) {
    if (s.rbpOff % 8 !== 0 || s.rbpOff / 8 < -128 || s.rbpOff / 8 > 127 || s.rbpOff === 0) return UNSUPPORTED;
    rbp = s.rbpOff / 8;
  } else if (s.rbp === RULE.other) return UNSUPPORTED;
  return pack(type, cfaOff, rbp);
}

function pack(type: number, cfaOff: number, rbpOff8: number): number {
  return ((cfaOff & 0xffff) | (type << 16) | ((rbpOff8 & 0xff) << 24)) >>> 0;
}
const UNSUPPORTED = pack(ROW.unsupported, 0, 0);
/** Index of the low 32-bit half of a 64-bit integer in this machine's memory. */
const LOW = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const NONE = pack(ROW.none, 0, 0);

/**
 * Sorted, merged rows as two u32 words each (pc, code), appended in address order: a row at or past
 * 4 GiB is left out (the table cannot hold it), one at the last row's pc replaces it, one with the
 * last row's rule is dropped, one below the last row's pc (overlapping FDEs) too — the earlier wins.
 */
class MergedRows {
  words: Uint32Array;
  count = 0;
  constructor(private readonly memory: WorkingMemory) {
    this.words = memory.words(4096);
  }
  push(pc: number, code: number): void {
    if (pc >= 2 ** 32) return;
    if (this.count > 0) {
      const lastPc = this.words[(this.count - 1) * 2]!;
      if (pc < lastPc) return; // overlapping FDEs: keep the earlier one's rows
      if (pc === lastPc) this.count--; // same pc: the later rule wins (a zero advance, or an FDE starting where the last ended)
    }
    // The same rule continues: the previous row already covers this range.
    if (this.count > 0 && this.words[(this.count - 1) * 2 + 1] === code) return;
    if (this.count * 2 === this.words.length) this.words = this.memory.grown(this.words, this.count * 2, this.words.length * 2);
    this.words[this.count * 2] = pc;
    this.words[this.count++ * 2 + 1] = code;
  }
}

/**
 * Where each FDE is, found before any CFA program runs: [start, end, section · 2^32 + entry offset] per
 * FDE, in file order. FDEs come in any order (most of node's and libc's are not in address order); their
 * programs then run one FDE at a time in address order, straight into the merged rows. Collecting every
 * raw row first to sort them held node's ≈ 4 MiB of raw rows beside the merged ones.
 */
class FdeIndex {
  fdes: Float64Array;
  n = 0;
  constructor(private readonly memory: WorkingMemory) {
    this.fdes = memory.doubles(3 * 256);
  }
  /** The section whose FDEs addEntry is given (compileRows sets it before each section's walk). */
  section = 0;
  /** An FDE of `section` found at byte `entry`. */
  addEntry(start: number, end: number, entry: number): void {
    this.add(start, end, this.section * 2 ** 32 + entry);
  }
  add(start: number, end: number, where: number): void {
    if ((this.n + 1) * 3 > this.fdes.length) this.fdes = this.memory.grown(this.fdes, this.n * 3, this.fdes.length * 2);
    const o = this.n++ * 3;
    this.fdes[o] = start;
    this.fdes[o + 1] = end;
    this.fdes[o + 2] = where;
  }
  /** FDE indices by start address (ties in file order); undefined when the file order is that already. */
  addressOrder(): Uint32Array | undefined {
    const { fdes, n } = this;
    let sorted = true;
    for (let f = 1; f < n && sorted; f++) sorted = fdes[(f - 1) * 3]! <= fdes[f * 3]!;
    if (sorted) return undefined;
    // (start, index) as the high and low halves of a 64-bit integer, sorted by the engine's numeric
    // sort: a comparator call per comparison was the largest part of merging node's 100 000 FDEs.
    // A start past 4 GiB sorts last (its rows cannot be stored anyway).
    const packed = this.memory.array(BigUint64Array, n);
    const halves = new Uint32Array(packed.buffer, packed.byteOffset, n * 2);
    for (let i = 0; i < n; i++) {
      halves[2 * i + LOW] = i;
      halves[2 * i + 1 - LOW] = Math.min(fdes[i * 3]!, 0xffffffff);
    }
    packed.sort();
    const order = this.memory.words(n);
    for (let k = 0; k < n; k++) order[k] = halves[2 * k + LOW]!;
    this.memory.drop(packed);
    return order;
  }
}

/** The CFA programs' sink: each row straight into the merged rows (FDEs are run in address order). */
class MergingSink implements CfiSink {
  constructor(private readonly out: MergedRows) {}
  fde(): void {
    // The FDE's range is the index's; its end row is pushed after its program has run.
  }
  row(pc: number, state: RuleState): void {
    if (pc < 2 ** 32) this.out.push(pc, encodeRule(state));
  }
}

/**
 * Compiles CFI sections into sorted, merged rows. FDEs may come in any order; where one ends and no
 * other begins, a "no info" row stops its rule from covering the gap. Addresses past 4 GiB cannot be
 * stored and are left out. The FDE index and the merged rows live in working memory (working-memory.ts),
 * freed here, and the sections' bytes too when they are that memory's.
 * @param keep false: the rows stay in that working memory, for a caller that copies them at once
 *   (into the BPF array) and then calls the table's `release`; true: a buffer of their own.
 * @param memory working memory the sections' bytes are in, freed with the rest.
 */
export function compileRows(sections: readonly CfiSection[], keep = true, memory = new WorkingMemory()): UnwindTable {
  try {
    const readers: CfiEntries[] = [];
    for (const section of sections) readers.push(new CfiEntries(section));
    const index = new FdeIndex(memory);
    // The prototype's method, bound: a closure written here would be a new function per compile, whose
    // optimized code V8 drops at a full GC once the last compile's closure died (so it was optimized
    // again for each binary); the bound method's code lives as long as the class.
    const addEntry = index.addEntry.bind(index);
    for (let i = 0; i < readers.length; i++) {
      index.section = i;
      readers[i]!.eachFde(addEntry);
    }
    const order = index.addressOrder();
    const merged = new MergedRows(memory);
    const sink = new MergingSink(merged);
    const { fdes, n } = index;
    for (let k = 0; k < n; k++) {
      const f = order ? order[k]! : k;
      const where = fdes[f * 3 + 2]!;
      readers[Math.floor(where / 2 ** 32)]!.run(where % 2 ** 32, sink);
      merged.push(fdes[f * 3 + 1]!, NONE);
    }
    // Only the merged rows are needed from here (a caller copies them into the BPF array): the rest goes now.
    if (order) memory.drop(order);
    memory.drop(fdes);
    for (const section of sections) memory.drop(section.data);
    const { words, count } = merged;
    let unsupported = 0;
    for (let i = 0; i < count; i++) if (((words[i * 2 + 1]! >>> 16) & 0xff) === ROW.unsupported) unsupported++;
    const view = Buffer.from(words.buffer, words.byteOffset, count * ROW_BYTES);
    if (!keep) return { rows: view, count, unsupported, release: () => memory.release() };
    const rows = Buffer.from(view);
    memory.release();
    return { rows, count, unsupported };
  } catch (e) {
    memory.release();
    throw e;
  }
}

/** Decodes one packed row (tests, debugging). */
export function readRow(rows: Buffer, i: number): { pc: number; type: number; cfaOff: number; rbpOff8: number } {
  const o = i * ROW_BYTES;
  return { pc: rows.readUInt32LE(o), cfaOff: rows.readInt16LE(o + 4), type: rows[o + 6]!, rbpOff8: rows.readInt8(o + 7) };
}

/**
 * The unwind table of an ELF file from its `.eh_frame` (what every x86_64 binary carries for C++
 * exceptions and backtraces), else its `.debug_frame`; undefined when it has neither. `keep` as for
 * compileRows.
 */
export function unwindTableOf(elf: ElfFile, keep = true): UnwindTable | undefined {
  for (const [name, kind] of [['.eh_frame', 'eh_frame'], ['.debug_frame', 'debug_frame']] as const) {
    const s = elf.section(name);
    if (!s || s.size === 0) continue;
    // Parsed, not kept: read into the compile's working memory (node's .eh_frame is 2.7 MB).
    const memory = new WorkingMemory();
    let data: Buffer | undefined;
    try {
      data = elf.sectionData(name, memory);
    } catch (e) {
      memory.release();
      throw e;
    }
    const table = compileRows([{ data: data!, addr: kind === 'eh_frame' ? s.addr : 0, kind }], keep, memory);
    if (table.count > 0) return table;
    table.release?.();
  }
  return undefined;
}

// A compile's objects live only while it runs: one of each held (kept-shapes.ts) so that a GC between two
// binaries does not drop the code compiled for them. Their working memory is released at once.
{
  const memory = new WorkingMemory();
  const merged = new MergedRows(memory);
  keepShapes(merged, new FdeIndex(memory), new MergingSink(merged));
  memory.release();
  const rows = Buffer.alloc(0);
  const withRelease: UnwindTable = { rows, count: 0, unsupported: 0, release: () => undefined };
  const own: UnwindTable = { rows, count: 0, unsupported: 0 };
  keepShapes(withRelease, own);
}
