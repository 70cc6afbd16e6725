import { keepShapes } from '../kept-shapes.js';

/**
 * DWARF call frame information (`.eh_frame`, `.debug_frame`): the CIEs and FDEs, and the CFA program
 * of each FDE run into a list of rule changes by address. Only what an x86_64 unwinder needs is kept:
 * the CFA rule, and where rbp and the return address are. Every read is bounds-checked; a malformed
 * entry ends the parse of its section with what was read so far (a half table still unwinds the
 * functions it covers), never an exception or a runaway loop.
 *
 * Spec: DWARF 5 §6.4 and the LSB's `.eh_frame` chapter (augmentations z, R, P, L, S; DW_EH_PE encodings).
 */

/** x86_64 DWARF register numbers. */
export const REG_RBP = 6;
export const REG_RSP = 7;
export const REG_RA = 16;

/** How a register is recovered. */
export const RULE = { same: 0, undefined: 1, offset: 2, other: 3 } as const;

/**
 * The rules in force at one address, mutated in place as the CFA program runs (a sink reads it
 * synchronously): an object per row made the parse of node's 2.7 MB .eh_frame take 2.9 s.
 */
export interface RuleState {
  /** CFA = register + offset, unless `cfaExpr` is set (a DWARF expression, kept to recognise the PLT's). */
  cfaReg: number;
  cfaOff: number;
  cfaExpr: Buffer | null;
  /** RULE.* for rbp and the return address; `…Off`: saved at CFA + that. */
  rbp: number;
  rbpOff: number;
  ra: number;
  raOff: number;
}

export interface CfiSink {
  /** An FDE covering [start, end) begins; its rows follow. */
  fde(start: number, end: number): void;
  /** The rules in force from `pc` (until the next row or the FDE's end). */
  row(pc: number, state: RuleState): void;
}

interface Cie {
  readonly codeAlign: number;
  readonly dataAlign: number;
  readonly raReg: number;
  readonly fdeEncoding: number;
  readonly hasAugData: boolean;
  readonly initial: Buffer;
  /** The rules after the initial instructions, computed for the CIE's first FDE and reused by the rest. */
  initialState?: RuleState;
}

class Cursor {
  constructor(
    readonly b: Buffer,
    public o: number,
    readonly end: number,
  ) {}
  get done(): boolean {
    return this.o >= this.end;
  }
  private need(n: number): void {
    if (this.o + n > this.end) throw new CfiError('entry runs past its end');
  }
  u8(): number {
    this.need(1);
    return this.b[this.o++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.o);
    this.o += 4;
    return v;
  }
  s32(): number {
    this.need(4);
    const v = this.b.readInt32LE(this.o);
    this.o += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.b.readUInt32LE(this.o) + this.b.readUInt32LE(this.o + 4) * 2 ** 32;
    this.o += 8;
    return v;
  }
  s64(): number {
    this.need(8);
    const v = Number(this.b.readBigInt64LE(this.o));
    this.o += 8;
    return v;
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) return result;
    }
    throw new CfiError('LEB128 too long');
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) return byte & 0x40 ? result - mul : result;
    }
    throw new CfiError('LEB128 too long');
  }
  cstring(): string {
    const nul = this.b.indexOf(0, this.o);
    if (nul < 0 || nul >= this.end) throw new CfiError('unterminated string');
    const s = this.b.toString('latin1', this.o, nul);
    this.o = nul + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
}

class CfiError extends Error {}

const DW_EH_PE_omit = 0xff;

/**
 * Reads a pointer in a DW_EH_PE encoding. `fieldAddr`: the virtual address of the field (for pcrel).
 * Returns NaN for encodings an unwinder does not need to follow (indirect, textrel, datarel, funcrel).
 */
function readEncoded(c: Cursor, enc: number, fieldAddr: number): number {
  if (enc === DW_EH_PE_omit) return 0;
  let v: number;
  switch (enc & 0x0f) {
    case 0x00: v = c.u64(); break;
    case 0x01: v = c.uleb(); break;
    case 0x02: v = c.u16(); break;
    case 0x03: v = c.u32(); break;
    case 0x04: v = c.u64(); break;
    case 0x09: v = c.sleb(); break;
    case 0x0a: v = (c.u16() << 16) >> 16; break;
    case 0x0b: v = c.s32(); break;
    case 0x0c: v = c.s64(); break;
    default: throw new CfiError(`pointer encoding 0x${enc.toString(16)}`);
  }
  switch (enc & 0x70) {
    case 0x00: return v;
    case 0x10: return v + fieldAddr;
    default: return NaN;
  }
}

/** The size-only form of an encoding: FDE address ranges are never pc-relative. */
function readRange(c: Cursor, enc: number): number {
  return readEncoded(c, enc & 0x0f, 0);
}

export interface CfiSection {
  readonly data: Buffer;
  /** Virtual address of the section's first byte (for pc-relative pointers). */
  readonly addr: number;
  /** `.eh_frame` (CIE id 0, relative CIE pointers) or `.debug_frame` (CIE id ~0, absolute offsets). */
  readonly kind: 'eh_frame' | 'debug_frame';
}

/** Streams every FDE of a section and its rule rows to `sink`. Skips malformed entries. */
export function parseCfi(section: CfiSection, sink: CfiSink): void {
  const entries = new CfiEntries(section);
  forEachEntry(section, (entry) => entries.run(entry, sink));
}

/**
 * A section's FDEs found first and run later, one at a time in any order (rows.ts runs them in address
 * order, so their rows need not be held to be sorted): each CIE is parsed once for both.
 */
export class CfiEntries {
  private readonly cies = new Map<number, Cie | null>();

  constructor(readonly section: CfiSection) {}

  /**
   * Calls `fn` for each FDE that run() would give rows, in file order: the range it covers and the
   * offset of its entry. Its CFA program is not run.
   */
  eachFde(fn: (start: number, end: number, entry: number) => void): void {
    forEachEntry(this.section, (entry) => {
      try {
        const fde = this.fdeAt(entry);
        if (fde) fn(fde.start, fde.start + fde.range, entry);
      } catch (e) {
        if (!(e instanceof CfiError)) throw e;
      }
    });
  }

  /** Gives `sink` the FDE at `entry` (if it is one) and its rows; a malformed entry gives what was read before the damage. */
  run(entry: number, sink: CfiSink): void {
    try {
      const fde = this.fdeAt(entry);
      if (fde) runFde(fde, this.section.addr, sink);
    } catch (e) {
      if (!(e instanceof CfiError)) throw e;
      // A malformed entry: skip it, its length is still trustworthy enough to find the next one.
    }
  }

  /** The FDE whose entry starts at `entry`, its cursor at its CFA program; null for a CIE or an FDE that gives no rows. */
  private fdeAt(entry: number): Fde | null {
    const { data, kind, addr } = this.section;
    const bounds = entryBounds(data, entry);
    if (!bounds) return null;
    const c = new Cursor(data, bounds[0], bounds[1]);
    const idPos = c.o;
    const id = c.u32();
    const isCie = kind === 'eh_frame' ? id === 0 : id === 0xffffffff;
    if (isCie) return null;
    const ciePos = kind === 'eh_frame' ? idPos - id : id;
    let cie = this.cies.get(ciePos);
    if (cie === undefined) {
      cie = readCieAt(data, ciePos, kind);
      this.cies.set(ciePos, cie);
    }
    return cie ? readFdeHeader(c, cie, addr) : null;
  }
}

/** [content start, end) of the entry whose length field is at `o`; null past the last one (a terminator, a truncated or zero-length entry). */
function entryBounds(data: Buffer, o: number): [number, number] | null {
  if (o + 4 > data.length) return null;
  let length = data.readUInt32LE(o);
  let headerEnd = o + 4;
  if (length === 0) return null;
  if (length === 0xffffffff) {
    if (o + 12 > data.length) return null;
    length = data.readUInt32LE(o + 4) + data.readUInt32LE(o + 8) * 2 ** 32;
    headerEnd = o + 12;
  }
  const end = headerEnd + length;
  if (end > data.length || end <= headerEnd) return null;
  return [headerEnd, end];
}

/** Calls `fn` with the offset of each entry (CIE or FDE) of a section, in file order, up to its end or terminator. */
function forEachEntry(section: CfiSection, fn: (entry: number) => void): void {
  const { data, kind } = section;
  let o = 0;
  while (o + 4 <= data.length) {
    if (data.readUInt32LE(o) === 0) {
      if (kind === 'eh_frame') break; // terminator
      o += 4;
      continue;
    }
    const bounds = entryBounds(data, o);
    if (!bounds) break;
    fn(o);
    o = bounds[1];
  }
}

function readCieAt(data: Buffer, pos: number, kind: CfiSection['kind']): Cie | null {
  const bounds = pos < 0 ? null : entryBounds(data, pos);
  if (!bounds) return null;
  const end = bounds[1];
  const c = new Cursor(data, bounds[0], end);
  try {
    const id = c.u32();
    if (kind === 'eh_frame' ? id !== 0 : id !== 0xffffffff) return null;
    const version = c.u8();
    const aug = c.cstring();
    if (aug.includes('eh')) c.u64(); // an ancient GCC's eh_data pointer
    if (version >= 4) {
      c.u8(); // address_size
      c.u8(); // segment_selector_size
    }
    const codeAlign = c.uleb();
    const dataAlign = c.sleb();
    const raReg = version === 1 ? c.u8() : c.uleb();
    let fdeEncoding = 0x00; // absptr unless the augmentation says otherwise
    const hasAugData = aug.startsWith('z');
    if (hasAugData) {
      const len = c.uleb();
      const augEnd = c.o + len;
      for (const ch of aug.slice(1)) {
        if (ch === 'R') fdeEncoding = c.u8();
        else if (ch === 'L') c.u8();
        else if (ch === 'P') {
          const enc = c.u8();
          readEncoded(c, enc & 0x7f, 0); // personality routine: not needed
        } else if (ch === 'S' || ch === 'B' || ch === 'G') continue;
        else break; // unknown: the length lets us skip the rest
      }
      c.o = augEnd;
    }
    return { codeAlign, dataAlign, raReg, fdeEncoding, hasAugData, initial: c.bytes(end - c.o) };
  } catch (e) {
    if (e instanceof CfiError) return null;
    throw e;
  }
}

/** An FDE's header read: its range, the rules its CIE starts it with, and a cursor at its CFA program. */
interface Fde {
  readonly c: Cursor;
  readonly cie: Cie;
  readonly start: number;
  readonly range: number;
  readonly initial: RuleState;
}

/** Reads an FDE's header after its CIE pointer; null when it gives no rows (an empty or unusable range, not x86_64). */
function readFdeHeader(c: Cursor, cie: Cie, sectionAddr: number): Fde | null {
  const fieldAddr = sectionAddr + c.o;
  const start = readEncoded(c, cie.fdeEncoding, fieldAddr);
  const range = readRange(c, cie.fdeEncoding);
  if (!Number.isFinite(start) || !Number.isFinite(range) || range <= 0 || start <= 0) return null;
  if (cie.hasAugData) c.o += c.uleb();
  if (cie.raReg !== REG_RA) return null; // not x86_64 call frame information
  // The CIE's initial instructions give every FDE of it the same rules (they emit no rows: no sink),
  // so they run once per CIE, not once per FDE.
  let initial = cie.initialState;
  if (!initial) {
    initial = { cfaReg: REG_RSP, cfaOff: 8, cfaExpr: null, rbp: RULE.same, rbpOff: 0, ra: RULE.same, raOff: 0 };
    new CfaProgram(cie, start, sectionAddr, initial, null, null, 0).run(new Cursor(cie.initial, 0, cie.initial.length));
    cie.initialState = initial;
  }
  return { c, cie, start, range, initial };
}

function runFde(fde: Fde, sectionAddr: number, sink: CfiSink): void {
  const { c, cie, start, range, initial } = fde;
  const state: RuleState = { ...initial };
  sink.fde(start, start + range);
  new CfaProgram(cie, start, sectionAddr, state, initial, sink, start + range).run(new Cursor(c.b, c.o, c.end));
}

/**
 * Runs CFA instructions on `state`, giving the sink the rules in force each time the location
 * advances and once at the end. `initial`: the CIE's state, for DW_CFA_restore. Methods rather than
 * closures: a closure per FDE cost more than the parse itself under tsx and vitest (each gets named).
 */
class CfaProgram {
  private stack: RuleState[] | undefined;

  constructor(
    private readonly cie: Cie,
    private loc: number,
    private readonly sectionAddr: number,
    private readonly state: RuleState,
    private readonly initial: RuleState | null,
    private readonly sink: CfiSink | null,
    private readonly end: number,
  ) {}

  private set(reg: number, rule: number, off: number): void {
    if (reg === REG_RBP) {
      this.state.rbp = rule;
      this.state.rbpOff = off;
    } else if (reg === REG_RA) {
      this.state.ra = rule;
      this.state.raOff = off;
    }
  }

  private restore(reg: number): void {
    const i = this.initial;
    if (!i) return;
    if (reg === REG_RBP) this.set(reg, i.rbp, i.rbpOff);
    else if (reg === REG_RA) this.set(reg, i.ra, i.raOff);
  }

  private advance(to: number): void {
    if (this.sink && this.loc < this.end) this.sink.row(this.loc, this.state);
    this.loc = to;
  }

  run(c: Cursor): void {
    const state = this.state;
    const caf = this.cie.codeAlign;
    const daf = this.cie.dataAlign;
    let steps = 0;
    while (!c.done) {
      if (++steps > 1_000_000) throw new CfiError('CFA program too long');
      const op = c.u8();
      const high = op & 0xc0;
      const low = op & 0x3f;
      if (high === 0x40) this.advance(this.loc + low * caf);
      else if (high === 0x80) this.set(low, RULE.offset, c.uleb() * daf);
      else if (high === 0xc0) this.restore(low);
      else {
        switch (op) {
          case 0x00: break; // nop
          case 0x01: this.advance(readEncoded(c, this.cie.fdeEncoding, this.sectionAddr + c.o)); break; // set_loc
          case 0x02: this.advance(this.loc + c.u8() * caf); break;
          case 0x03: this.advance(this.loc + c.u16() * caf); break;
          case 0x04: this.advance(this.loc + c.u32() * caf); break;
          case 0x05: { const r = c.uleb(); this.set(r, RULE.offset, c.uleb() * daf); break; }
          case 0x06: this.restore(c.uleb()); break;
          case 0x07: this.set(c.uleb(), RULE.undefined, 0); break;
          case 0x08: this.set(c.uleb(), RULE.same, 0); break;
          case 0x09: { const r = c.uleb(); c.uleb(); this.set(r, RULE.other, 0); break; } // register
          case 0x0a: (this.stack ??= []).push({ ...state }); break; // remember_state
          case 0x0b: { // restore_state (the CFA too, as GCC and LLVM expect)
            const saved = this.stack?.pop();
            if (saved) Object.assign(state, saved);
            break;
          }
          case 0x0c: state.cfaReg = c.uleb(); state.cfaOff = c.uleb(); state.cfaExpr = null; break;
          case 0x0d: state.cfaReg = c.uleb(); if (state.cfaExpr) state.cfaOff = 0; state.cfaExpr = null; break;
          case 0x0e: state.cfaOff = c.uleb(); break;
          case 0x0f: state.cfaExpr = c.bytes(c.uleb()); break;
          case 0x10: { const r = c.uleb(); c.bytes(c.uleb()); this.set(r, RULE.other, 0); break; } // expression
          case 0x11: { const r = c.uleb(); this.set(r, RULE.offset, c.sleb() * daf); break; }
          case 0x12: state.cfaReg = c.uleb(); state.cfaOff = c.sleb() * daf; state.cfaExpr = null; break;
          case 0x13: state.cfaOff = c.sleb() * daf; break;
          case 0x14: case 0x15: { const r = c.uleb(); if (op === 0x14) c.uleb(); else c.sleb(); this.set(r, RULE.other, 0); break; } // val_offset(_sf)
          case 0x16: { const r = c.uleb(); c.bytes(c.uleb()); this.set(r, RULE.other, 0); break; } // val_expression
          case 0x1d: this.advance(this.loc + c.u64() * caf); break; // MIPS_advance_loc8
          case 0x2e: c.uleb(); break; // GNU_args_size
          case 0x2f: { const r = c.uleb(); this.set(r, RULE.offset, -c.uleb() * daf); break; }
          default: throw new CfiError(`CFA opcode 0x${op.toString(16)}`);
        }
      }
    }
    this.advance(this.loc);
  }
}

// The parser's objects live only while a binary's tables compile: one of each shape held (kept-shapes.ts),
// made as the parser makes them (same property order, same kinds of value), so that a GC between two
// binaries does not drop the code compiled for them.
{
  const bytes = Buffer.alloc(0);
  const cursor = new Cursor(bytes, 0, 0);
  const state: RuleState = { cfaReg: REG_RSP, cfaOff: 8, cfaExpr: null, rbp: RULE.same, rbpOff: 0, ra: RULE.same, raOff: 0 };
  const cie: Cie = { codeAlign: 1, dataAlign: -8, raReg: REG_RA, fdeEncoding: 0, hasAugData: false, initial: bytes };
  cie.initialState = state;
  const fde: Fde = { c: cursor, cie, start: 0, range: 0, initial: state };
  const section: CfiSection = { data: bytes, addr: 0, kind: 'eh_frame' };
  keepShapes(cursor, state, { ...state }, cie, fde, section, new CfiEntries(section), new CfaProgram(cie, 0, 0, { ...state }, state, null, 0));
}
