import type { V8Constants } from './constants.js';

/** Reads `length` bytes of a process's memory at `addr`; undefined when not all are readable. */
export type ReadMemory = (addr: number, length: number) => Buffer | undefined;

/**
 * A process's memory as a fresh read walks it (v8/reader.ts reads it in blocks). Integers come back as
 * numbers: a Buffer view made per word read was ≈ 6 % of what a steady agent allocated (stop 32).
 */
export interface HeapMemory {
  /** `length` bytes at `addr`, valid until the next read (copy what is kept); undefined when not all are readable. */
  bytes(addr: number, length: number): Buffer | undefined;
  /** The unsigned little-endian 16-bit integer at `addr`; undefined when not readable. */
  u16(addr: number): number | undefined;
  /** The unsigned little-endian 32-bit integer at `addr`; undefined when not readable. */
  u32(addr: number): number | undefined;
  /** `length` bytes at `addr` decoded as `encoding`; undefined when not all are readable. */
  text(addr: number, length: number, encoding: 'latin1' | 'utf16le'): string | undefined;
}

/** Why a frame has no name (counted by the agent, kiln_agent_v8_frames_total{outcome}). */
export type V8Outcome = 'named' | 'not_function' | 'read_error' | 'no_script';

export interface V8FunctionInfo {
  readonly name: string;
  readonly file: string;
  /** 1-based line where the function starts; 0 when not known. */
  readonly line: number;
}

/** Longest name or file read (characters); longer ones are cut. */
const MAX_CHARS = 1024;
/** Cons strings nest; a name built by concatenation rarely goes deeper. */
const MAX_DEPTH = 8;
/** ScopeInfo: names of fewer context locals than this are inlined (kScopeInfoMaxInlinedLocalNamesSize). */
const MAX_INLINED_LOCAL_NAMES = 75;
/** ScopeFlags bits (scope-info.tq, V8 9–12): receiver_variable, has_saved_class_variable, function_variable, has_inferred_function_name. */
const RECEIVER_SHIFT = 7;
const SAVED_CLASS_VARIABLE = 1 << 10;
const FUNCTION_VARIABLE_SHIFT = 12;
const INFERRED_NAME = 1 << 14;
/** VariableAllocationInfo: NONE, STACK, CONTEXT, UNUSED. */
const ALLOC_STACK = 1;
const ALLOC_CONTEXT = 2;
/** Bytes of a SharedFunctionInfo read at once: its map, name or scope info and script. */
export const SFI_HEAD_BYTES = 48;
/** Line ends read to find a line (a script of more lines gives none). */
const MAX_LINE_ENDS = 1 << 20;
/** Longest script source read to count its lines when V8 has not (a longer one gives no line). */
export const MAX_SOURCE_CHARS = 1 << 20;

/** Line ends of script sources already counted, by `source address:length` (v8/reader.ts bounds it). */
export interface LineEndsCache {
  get(key: string): Int32Array | undefined;
  set(key: string, ends: Int32Array): void;
}

/**
 * Walks V8 heap objects of another process through `read`, with the layout of the binary's post-mortem
 * constants (x86_64, 8-byte tagged values, no pointer compression). Every step checks the object's
 * type from its map: memory reused since the sample gives no name rather than a wrong one.
 */
export class V8Heap {
  constructor(
    private readonly c: V8Constants,
    private readonly mem: HeapMemory,
    private readonly lineEnds?: LineEndsCache,
  ) {}

  // Tagged words are read as two 32-bit halves into numbers, not as BigInts: a BigInt per word and one per
  // operation on it were most of what a fresh read allocated.

  /** A tagged word (its halves): a heap object's address (tag removed), or undefined for a Smi or nonsense. */
  private object(lo: number, hi: number): number | undefined {
    return untag(this.c, lo, hi);
  }

  /** The heap object a tagged word in `b` at `at` points to. */
  private objectIn(b: Buffer | undefined, at = 0): number | undefined {
    return b && this.object(b.readUInt32LE(at), b.readUInt32LE(at + 4));
  }

  /** The heap object the tagged word at `addr + off` points to (its low half first: a Smi's is enough). */
  private objectAt(addr: number, off: number): number | undefined {
    const lo = this.mem.u32(addr + off);
    if (lo === undefined || (lo & this.c.heapObjectTagMask) !== this.c.heapObjectTag) return undefined;
    const hi = this.mem.u32(addr + off + 4);
    return hi === undefined ? undefined : this.object(lo, hi);
  }

  /** The Smi at `addr + off`; undefined when the word there is not one. */
  private smiAt(addr: number, off: number): number | undefined {
    const lo = this.mem.u32(addr + off);
    if (lo === undefined || (lo & 1) !== 0) return undefined;
    // x86_64 without pointer compression (SmiShiftSize 31, one tag bit): the value is the upper half.
    if (this.c.smiShift + 1 === 32) {
      const hi = this.mem.u32(addr + off + 4);
      return hi === undefined ? undefined : hi | 0;
    }
    const b = this.mem.bytes(addr + off, 8);
    return b && Number(BigInt.asIntN(64, b.readBigUInt64LE(0)) >> BigInt(this.c.smiShift + 1));
  }

  /** A string's length (its int32 field). */
  private lengthOf(addr: number): number | undefined {
    const length = this.mem.u32(addr + this.c.stringLength);
    return length === undefined ? undefined : length | 0;
  }

  /** The instance type of the object at `addr` (from its map). */
  typeOf(addr: number): number | undefined {
    const map = this.objectAt(addr, this.c.mapOffset);
    if (map === undefined) return undefined;
    return this.mem.u16(map + this.c.mapInstanceType);
  }

  /**
   * The first bytes of a SharedFunctionInfo, when `sfi` (tagged) is one: what re-validation compares. When
   * the object there is none, its map word's code instead (mapCode: what a later check compares to tell
   * "still not a function" from one read); undefined when it is one but its head could not be read.
   */
  sfiHead(sfi: number): Buffer | number | undefined {
    const addr = sfi >= 0 && Number.isSafeInteger(sfi) ? this.object(sfi % 2 ** 32, Math.floor(sfi / 2 ** 32)) : undefined;
    if (addr === undefined) return UNREADABLE; // no object's address: no read of it can succeed either (mapCode's check)
    const map = mapCode(this.c, this.mem.u32(addr + this.c.mapOffset), this.mem.u32(addr + this.c.mapOffset + 4));
    // A map whose type does not read is no map: not SharedFunctionInfo's, which is always readable.
    if (map < 0 || this.mem.u16(map + this.c.mapInstanceType) !== this.c.typeSharedFunctionInfo) return map;
    return this.mem.bytes(addr, SFI_HEAD_BYTES);
  }

  /** Name, file and first line of the function of a SharedFunctionInfo whose head was just read. */
  functionOf(head: Buffer): { outcome: V8Outcome; info?: V8FunctionInfo } {
    const nameOrScope = this.objectIn(head, this.c.sfiNameOrScopeInfo);
    let name: string | undefined = '';
    let start = -1;
    if (nameOrScope !== undefined) {
      const type = this.typeOf(nameOrScope);
      if (type === undefined) return { outcome: 'read_error' };
      if (type === this.c.typeScopeInfo) {
        const scope = this.scopeInfo(nameOrScope);
        if (!scope) return { outcome: 'read_error' };
        ({ name, start } = scope);
      } else if (type < this.c.firstNonstringType) name = this.string(nameOrScope, 0);
      else return { outcome: 'not_function' };
      if (name === undefined) return { outcome: 'read_error' };
    }
    const script = this.objectIn(head, this.c.sfiScriptOrDebugInfo);
    if (script === undefined || this.typeOf(script) !== this.c.typeScript) return { outcome: 'no_script', info: { name: name || '(anonymous)', file: '', line: 0 } };
    const fileObj = this.objectAt(script, this.c.scriptName);
    const fileType = fileObj === undefined ? undefined : this.typeOf(fileObj);
    const file = fileObj !== undefined && fileType !== undefined && fileType < this.c.firstNonstringType ? (this.string(fileObj, 0) ?? '') : '';
    const line = start >= 0 ? this.lineOf(script, start) : 0;
    return { outcome: 'named', info: { name: name || '(anonymous)', file, line } };
  }

  /** Offset of a ScopeInfo's slot `i` (past its map word). */
  private slot(i: number): number {
    return this.c.taggedSize * (1 + i);
  }

  /**
   * A compiled function's ScopeInfo: its name (function_variable_info's, else the inferred one) and its
   * start position (position_info), found past the flag-dependent slots before them.
   */
  private scopeInfo(addr: number): { name: string | undefined; start: number } | undefined {
    const flags = this.smiAt(addr, this.slot(0));
    const locals = this.smiAt(addr, this.slot(this.c.scopeInfoContextLocals));
    if (flags === undefined || locals === undefined || locals < 0 || locals > 1 << 16) return undefined;
    // The locals' names, inlined, or past MAX_INLINED_LOCAL_NAMES one slot holding a hash table of them; then their infos.
    let i = this.c.scopeInfoFirstVars + (locals < MAX_INLINED_LOCAL_NAMES ? locals : 1) + locals;
    if (flags & SAVED_CLASS_VARIABLE) i++;
    const receiver = (flags >> RECEIVER_SHIFT) & 3;
    if (receiver === ALLOC_STACK || receiver === ALLOC_CONTEXT) i++;
    let name: string | undefined;
    if ((flags >> FUNCTION_VARIABLE_SHIFT) & 3) {
      name = this.stringAt(this.objectAt(addr, this.slot(i)));
      i += 2;
    }
    if (flags & INFERRED_NAME) {
      if (!name) name = this.stringAt(this.objectAt(addr, this.slot(i)));
      i++;
    }
    // position_info (start, end) follows for function scopes.
    const start = this.smiAt(addr, this.slot(i)) ?? -1;
    return { name: name ?? '', start };
  }

  /** The string at a heap object's address; undefined when it is not a string. */
  private stringAt(addr: number | undefined): string | undefined {
    if (addr === undefined) return undefined;
    const type = this.typeOf(addr);
    return type !== undefined && type < this.c.firstNonstringType ? this.string(addr, 0) : undefined;
  }

  /** A string of any representation but external (sequential, cons, thin, sliced), at most MAX_CHARS long. */
  string(addr: number, depth: number, maxChars = MAX_CHARS): string | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const c = this.c;
    const type = this.typeOf(addr);
    if (type === undefined || (type & c.isNotStringMask) !== 0) return undefined;
    const length = this.lengthOf(addr);
    if (length === undefined || length < 0) return undefined;
    const n = Math.min(length, maxChars);
    const oneByte = (type & c.stringEncodingMask) === c.oneByteStringTag;
    switch (type & c.stringRepresentationMask) {
      case c.seqStringTag: {
        if (n === 0) return '';
        return oneByte ? this.mem.text(addr + c.seqOneByteChars, n, 'latin1') : this.mem.text(addr + c.seqTwoByteChars, 2 * n, 'utf16le');
      }
      case c.consStringTag: {
        const first = this.objectAt(addr, c.consFirst);
        const second = this.objectAt(addr, c.consSecond);
        if (first === undefined || second === undefined) return undefined;
        const a = this.string(first, depth + 1, n);
        if (a === undefined) return undefined;
        if (a.length >= n) return a.slice(0, n);
        const b = this.string(second, depth + 1, n - a.length);
        return b === undefined ? undefined : (a + b).slice(0, n);
      }
      case c.thinStringTag: {
        const actual = this.objectAt(addr, c.thinActual);
        return actual === undefined ? undefined : this.string(actual, depth + 1, n);
      }
      case c.slicedStringTag: {
        const parent = this.objectAt(addr, c.slicedParent);
        const offset = this.smiAt(addr, c.slicedOffset);
        if (parent === undefined || offset === undefined) return undefined;
        if (offset < 0) return undefined;
        const whole = this.string(parent, depth + 1, offset + n);
        return whole?.slice(offset, offset + n);
      }
      default:
        return undefined; // external: its characters are outside the heap, behind a C++ object
    }
  }

  /**
   * The 1-based line of a source position: from the script's line ends when V8 has computed them (an
   * error's stack trace, the inspector), else by counting the source's newlines once per script.
   */
  private lineOf(script: number, position: number): number {
    const ends = this.objectAt(script, this.c.scriptLineEnds);
    if (ends === undefined || this.typeOf(ends) !== this.c.typeFixedArray) return this.lineFromSource(script, position);
    const length = this.smiAt(ends, this.c.fixedArrayLength);
    if (length === undefined || length <= 0 || length > MAX_LINE_ENDS) return 0;
    // A binary search reading one word per probe (the reader reads memory in blocks): ≈ log2(lines) words
    // and nothing kept, where reading the whole array cost each fresh read of a function in a 30 000-line
    // script ≈ 3 ms of CPU and 240 KB read, and keeping it per script cost the agent's memory.
    const data = ends + this.c.fixedArrayData;
    let lo = 0;
    let hi = length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const end = this.smiAt(data, mid * 8);
      if (end === undefined) return 0;
      if (end < position) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  private lineFromSource(script: number, position: number): number {
    const source = this.objectAt(script, this.c.scriptSource);
    if (source === undefined || !this.lineEnds) return 0;
    const length = this.lengthOf(source);
    if (length === undefined || length <= 0 || length > MAX_SOURCE_CHARS || position > length) return 0;
    const key = `${source}:${length}`;
    let ends = this.lineEnds.get(key);
    if (!ends) {
      ends = this.sourceLineEnds(source, length);
      if (!ends) return 0;
      this.lineEnds.set(key, ends);
    }
    return lineAt(ends, position);
  }

  /**
   * Newline offsets of a script source of `length` characters: counted in its bytes when it is one
   * sequential string (the usual case: no string of up to 1 MiB decoded per script met), else in its text.
   */
  private sourceLineEnds(source: number, length: number): Int32Array | undefined {
    const c = this.c;
    const type = this.typeOf(source);
    if (type === undefined || (type & c.isNotStringMask) !== 0) return undefined;
    if ((type & c.stringRepresentationMask) === c.seqStringTag) {
      const oneByte = (type & c.stringEncodingMask) === c.oneByteStringTag;
      const data = this.mem.bytes(source + (oneByte ? c.seqOneByteChars : c.seqTwoByteChars), oneByte ? length : 2 * length);
      return data && newlinesIn(data, oneByte ? 1 : 2);
    }
    const text = this.string(source, 0, MAX_SOURCE_CHARS);
    return text === undefined || text.length !== length ? undefined : newlines(text);
  }
}

/** A tagged word (its halves): a heap object's address (tag removed), or undefined for a Smi or nonsense. */
function untag(c: V8Constants, lo: number, hi: number): number | undefined {
  if ((lo & c.heapObjectTagMask) !== c.heapObjectTag) return undefined;
  const addr = hi * 2 ** 32 + lo - c.heapObjectTag;
  return addr > 0x1000 && addr < 2 ** 47 ? addr : undefined;
}

/** mapCode: the word at the object's place was not a heap object's address (a Smi, or nonsense). */
export const NOT_AN_OBJECT = -1;
/** mapCode: the word could not be read. */
export const UNREADABLE = -2;

/**
 * An object's map word (its two halves read, or undefined when not readable) as one number: the map's address,
 * else NOT_AN_OBJECT or UNREADABLE. A SharedFunctionInfo's map is one of V8's read-only roots, at one
 * address for the process's life: so where a word once had a code that is not that map's, the same code
 * read there again says "still no SharedFunctionInfo" (v8/reader.ts remembers words that held none).
 */
export function mapCode(c: V8Constants, lo: number | undefined, hi: number | undefined): number {
  if (lo === undefined || hi === undefined) return UNREADABLE;
  return untag(c, lo, hi) ?? NOT_AN_OBJECT;
}

/** Offsets of each newline of a source. */
export function newlines(source: string): Int32Array {
  let count = 0;
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) count++;
  const ends = new Int32Array(count);
  let j = 0;
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) ends[j++] = i;
  return ends;
}

/**
 * Character offsets of each newline in a source's characters as stored: `width` 1 (Latin-1) or 2 (UTF-16,
 * little-endian: a newline is the bytes 0A 00 at an even offset).
 */
export function newlinesIn(data: Buffer, width: 1 | 2): Int32Array {
  // Twice over the bytes (a memchr each), as newlines() does: counted, then written, with no array grown between.
  let count = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) if (width === 1 || (i % 2 === 0 && data[i + 1] === 0)) count++;
  const ends = new Int32Array(count);
  let j = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) if (width === 1 || (i % 2 === 0 && data[i + 1] === 0)) ends[j++] = i / width;
  return ends;
}

/** The 1-based line holding `position`, given the offsets of the source's newlines. */
export function lineAt(ends: Int32Array, position: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! < position) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}
