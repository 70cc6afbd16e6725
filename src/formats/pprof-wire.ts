import { InputError } from '../model/errors.js';
import type { DecodeBudget } from './decode-limits.js';

/**
 * A pprof `Profile` message read straight off the protobuf wire into plain arrays, for ingest.
 *
 * Why not `pprof-format`'s decoder: it allocates a Buffer view per field, a TextDecoder per string and
 * re-encodes every string it reads, and hands int64s past 2^28 over as bigints; for an agent-sized
 * profile (≈ 230 KiB, thousands of functions) that was ≈ 13 ms, most of the server's ingest time. This
 * reader walks the bytes once, keeps string-table indices as numbers and resolves nothing itself
 * (decodePprof does). `pprof-format` stays the encoder and the tests' independent reference decoder.
 *
 * Field numbers follow pprof's profile.proto. Repeated scalars are accepted packed or not, unknown
 * fields are skipped, and every length is checked against its enclosing message, so a truncated or
 * crafted payload is an InputError, never an out-of-bounds read.
 */
export interface PprofValueType {
  readonly type: number;
  readonly unit: number;
}

export interface PprofMapping {
  readonly id: number;
  readonly filename: number;
  readonly buildId: number;
}

/** Functions as parallel columns (no object per function: there are thousands per profile). */
export interface PprofFunctions {
  readonly ids: number[];
  readonly names: number[];
  readonly systemNames: number[];
  readonly filenames: number[];
}

/** Locations as parallel columns; location i's lines are `lineStart[i]` up to `lineStart[i + 1]`. */
export interface PprofLocations {
  readonly ids: number[];
  readonly mappingIds: number[];
  readonly addresses: bigint[];
  readonly lineStart: number[];
  readonly lineFunctionIds: number[];
  readonly lineNumbers: number[];
}

export interface PprofSample {
  readonly locationIds: number[];
  readonly values: number[];
  /** String labels as flat (key, str) string-table index pairs; numeric labels are left out. */
  readonly labels: number[];
}

/** What every pprof reading gives alike: the header fields, mappings and functions. */
interface PprofHeader {
  readonly sampleTypes: PprofValueType[];
  readonly periodType: PprofValueType | undefined;
  readonly period: number;
  readonly timeNanos: number;
  readonly durationNanos: number;
  readonly mappings: PprofMapping[];
  readonly functions: PprofFunctions;
}

export interface PprofMessage extends PprofHeader {
  readonly strings: string[];
  readonly locations: PprofLocations;
  readonly samples: PprofSample[];
}

const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const FIXED32 = 5;
const TWO_POW_32 = 4294967296;

/**
 * Cursor over one protobuf message; `end` is where the message being read stops. `what` names the
 * payload in errors ("not a valid pprof profile: …").
 */
export class WireReader {
  pos = 0;
  end: number;

  constructor(
    readonly buf: Uint8Array,
    private readonly what = 'pprof profile',
  ) {
    this.end = buf.length;
  }

  fail(why: string): never {
    throw new InputError(`not a valid ${this.what}: ${why} at byte ${this.pos} of ${this.buf.length}`);
  }

  /**
   * An int64/uint64 varint as a number: exact below 2^53, two's-complement negative for 10-byte
   * negative int64s (what Number(BigInt.asIntN(64, v)) gives), rounded beyond.
   */
  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) this.fail('varint runs past the end of its message');
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    // Low 28 bits in the fast loop; anything longer goes through lo/hi 32-bit halves.
    let lo = b & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= this.end) this.fail('varint runs past the end of its message');
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return lo;
      }
    }
    if (pos >= this.end) this.fail('varint runs past the end of its message');
    b = buf[pos++]!;
    lo = (lo | ((b & 0x0f) << 28)) >>> 0;
    let hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) this.fail('varint longer than 10 bytes');
        if (pos >= this.end) this.fail('varint runs past the end of its message');
        b = buf[pos++]!;
        hi = (hi | ((b & 0x7f) << shift)) >>> 0;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    if (hi < 0x200000) return hi * TWO_POW_32 + lo;
    return Number(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)));
  }

  /** A uint64 varint exactly, as a bigint (addresses). */
  uint64(): bigint {
    const start = this.pos;
    const n = this.varint();
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) return BigInt(n);
    // Past 2^53 (or negative as int64): re-read the raw 7-bit groups exactly.
    let v = 0n;
    for (let i = start, shift = 0n; i < this.pos; i++, shift += 7n) v |= BigInt(this.buf[i]! & 0x7f) << shift;
    return BigInt.asUintN(64, v);
  }

  /** Reads a length prefix and returns where that length-delimited field ends. */
  lengthEnd(): number {
    const len = this.varint();
    if (len > this.end - this.pos) this.fail(`field of ${len} bytes runs past the end of its message`);
    return this.pos + len;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case BYTES:
        this.pos = this.lengthEnd();
        return;
      case FIXED32:
        this.advance(4);
        return;
      default:
        this.fail(`wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) this.fail('fixed-size field runs past the end of its message');
    this.pos += n;
  }

  /** Skips a field this reader does not use. */
  skipField(tag: number): void {
    if (tag < 8) this.fail('field number 0');
    this.skip(tag & 7);
  }

  /** Narrows the reader to a nested message; returns the outer end, for `leave`. */
  enter(): number {
    const end = this.lengthEnd();
    const outer = this.end;
    this.end = end;
    return outer;
  }

  leave(outer: number): void {
    this.end = outer;
  }

  /**
   * `packed` for a sample's location ids, the most frequent field of a pprof (≈ 20 000 per agent push),
   * written into `out` from index `n` on (the scan's reused column); returns the new length. Ids of one
   * or two bytes are read without a call, and the store here sees only this column (a store site that
   * sees two array kinds is not inlined; sharing it with the values' doubles cost ≈ 15 % of a scan).
   */
  packedIds(out: number[], n: number): number {
    const outer = this.enter();
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    while (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        out[n++] = b;
        pos++;
        continue;
      }
      if (pos + 1 < end && buf[pos + 1]! < 0x80) {
        out[n++] = (b & 0x7f) | (buf[pos + 1]! << 7);
        pos += 2;
        continue;
      }
      this.pos = pos;
      out[n++] = this.varint();
      pos = this.pos;
    }
    this.pos = pos;
    this.leave(outer);
    return n;
  }

  /** `packed` into `out` from index `n` on; returns the new length. */
  packedAt(out: number[], n: number): number {
    const outer = this.enter();
    while (this.pos < this.end) out[n++] = this.varint();
    this.leave(outer);
    return n;
  }

  /** Appends the elements of a packed repeated integer field. */
  packed(out: number[]): void {
    const outer = this.enter();
    while (this.pos < this.end) out.push(this.varint());
    this.leave(outer);
  }
}

// Tags (field number << 3 | wire type) of the fields read, numbered as in pprof's profile.proto.
const tag = (field: number, wireType: number): number => field * 8 + wireType;
const T1_VARINT = tag(1, VARINT);
const T1_BYTES = tag(1, BYTES);
const T2_VARINT = tag(2, VARINT);
const T2_BYTES = tag(2, BYTES);
const T3_VARINT = tag(3, VARINT);
const T3_BYTES = tag(3, BYTES);
const T4_VARINT = tag(4, VARINT);
const T4_BYTES = tag(4, BYTES);
const T5_VARINT = tag(5, VARINT);
const T5_BYTES = tag(5, BYTES);
const T6_VARINT = tag(6, VARINT);
const T6_BYTES = tag(6, BYTES);
const T9_VARINT = tag(9, VARINT);
const T10_VARINT = tag(10, VARINT);
const T11_BYTES = tag(11, BYTES);
const T12_VARINT = tag(12, VARINT);

function readValueType(r: WireReader): PprofValueType {
  const outer = r.enter();
  let type = 0;
  let unit = 0;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === T1_VARINT) type = r.varint();
    else if (t === T2_VARINT) unit = r.varint();
    else r.skipField(t);
  }
  r.leave(outer);
  return { type, unit };
}

/**
 * Reads one sample into the flat columns, checking it against the request's budget as soon as its
 * location ids are read (a sample that breaks a limit stops the whole scan, which is then dropped).
 */
function scanSample(r: WireReader, c: ScanColumns, budget: DecodeBudget | undefined): void {
  const outer = r.enter();
  const ids = c.locationIds;
  const from = c.nLocationIds;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === T1_BYTES) c.nLocationIds = r.packedIds(ids, c.nLocationIds);
    else if (t === T2_BYTES) c.nValues = r.packedAt(c.values, c.nValues);
    else if (t === T1_VARINT) ids[c.nLocationIds++] = r.varint();
    else if (t === T2_VARINT) c.values[c.nValues++] = r.varint();
    else if (t === T3_BYTES) {
      const o = r.enter();
      let key = 0;
      let str = 0;
      while (r.pos < r.end) {
        const lt = r.varint();
        if (lt === T1_VARINT) key = r.varint();
        else if (lt === T2_VARINT) str = r.varint();
        else r.skipField(lt);
      }
      r.leave(o);
      if (str !== 0) {
        // str 0 (''): a numeric label, not series identity
        c.labels[c.nLabels++] = key;
        c.labels[c.nLabels++] = str;
      }
    } else r.skipField(t);
  }
  r.leave(outer);
  budget?.sample(ids, from, c.nLocationIds, c.nSamples);
  const i = ++c.nSamples;
  c.locationStart[i] = c.nLocationIds;
  c.valueStart[i] = c.nValues;
  c.labelStart[i] = c.nLabels;
}

function readMapping(r: WireReader): PprofMapping {
  const outer = r.enter();
  let id = 0;
  let filename = 0;
  let buildId = 0;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === T1_VARINT) id = r.varint();
    else if (t === T5_VARINT) filename = r.varint();
    else if (t === T6_VARINT) buildId = r.varint();
    else r.skipField(t);
  }
  r.leave(outer);
  return { id, filename, buildId };
}

/**
 * Where a small varint at `buf[pos]` ends (1–3 bytes, below 2^21) and its value, for the fast paths
 * below: `-1` when it is longer or runs past `end` (the caller then reads the message the general way).
 * One module-level slot carries the value so that nothing is allocated.
 */
let small = 0;
function smallVarint(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  let b = buf[pos]!;
  if (b < 0x80) {
    small = b;
    return pos + 1;
  }
  let v = b & 0x7f;
  if (pos + 1 >= end) return -1;
  b = buf[pos + 1]!;
  if (b < 0x80) {
    small = v | (b << 7);
    return pos + 2;
  }
  v |= (b & 0x7f) << 7;
  if (pos + 2 >= end) return -1;
  b = buf[pos + 2]!;
  if (b >= 0x80) return -1;
  small = v | (b << 14);
  return pos + 3;
}

/** Where the nested message at the reader's position ends, when its length is a small varint (-1: not); `small` is its length. */
function smallMessageEnd(r: WireReader): number {
  const pos = smallVarint(r.buf, r.pos, r.end);
  return pos < 0 || small > r.end - pos ? -1 : pos + small;
}

/**
 * A Function message whose length, tags and fields are all small varints (what every encoder writes
 * for a profile of fewer than 2^21 strings and functions), read without the reader's per-field calls;
 * false (nothing read) for anything else, which readFunction then reads the general way.
 */
function readFunctionFast(r: WireReader, out: ScanColumns): boolean {
  const buf = r.buf;
  const end = smallMessageEnd(r);
  if (end < 0) return false;
  let pos = end - small;
  let id = 0;
  let name = 0;
  let systemName = 0;
  let filename = 0;
  while (pos < end) {
    const t = buf[pos++]!;
    pos = smallVarint(buf, pos, end);
    if (pos < 0) return false;
    if (t === T1_VARINT) id = small;
    else if (t === T2_VARINT) name = small;
    else if (t === T3_VARINT) systemName = small;
    else if (t === T4_VARINT) filename = small;
    else if (t !== T5_VARINT) return false;
  }
  r.pos = end;
  pushFunction(out, id, name, systemName, filename);
  return true;
}

function readFunction(r: WireReader, out: ScanColumns): void {
  if (readFunctionFast(r, out)) return;
  const outer = r.enter();
  let id = 0;
  let name = 0;
  let systemName = 0;
  let filename = 0;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === T1_VARINT) id = r.varint();
    else if (t === T2_VARINT) name = r.varint();
    else if (t === T3_VARINT) systemName = r.varint();
    else if (t === T4_VARINT) filename = r.varint();
    else r.skipField(t);
  }
  r.leave(outer);
  pushFunction(out, id, name, systemName, filename);
}

/**
 * scanLocation's fast path, as readFunctionFast: ids, mapping ids, lines' fields and lengths all small
 * varints, the address any varint (only its position is kept); false, with nothing kept, otherwise.
 */
function scanLocationFast(r: WireReader, out: ScanColumns): boolean {
  const buf = r.buf;
  const end = smallMessageEnd(r);
  if (end < 0) return false;
  let pos = end - small;
  let id = 0;
  let mappingId = 0;
  let addressAt = -1;
  const lines = out.nLines;
  while (pos < end) {
    const t = buf[pos++]!;
    if (t === T4_BYTES) {
      pos = smallVarint(buf, pos, end);
      if (pos < 0 || small > end - pos) return dropLines(out, lines);
      const lineEnd = pos + small;
      let functionId = 0;
      let line = 0;
      while (pos < lineEnd) {
        const lt = buf[pos++]!;
        pos = smallVarint(buf, pos, lineEnd);
        if (pos < 0) return dropLines(out, lines);
        if (lt === T1_VARINT) functionId = small;
        else if (lt === T2_VARINT) line = small;
        else if (lt !== T3_VARINT) return dropLines(out, lines);
      }
      pushLine(out, functionId, line);
      continue;
    }
    if (t === T3_VARINT) {
      // The address: any length up to 10 bytes; its position is what is kept.
      addressAt = pos;
      let k = 0;
      while (pos < end && buf[pos]! >= 0x80 && k < 9) pos++, k++;
      if (pos >= end || buf[pos]! >= 0x80) return dropLines(out, lines);
      pos++;
      continue;
    }
    pos = smallVarint(buf, pos, end);
    if (pos < 0) return dropLines(out, lines);
    if (t === T1_VARINT) id = small;
    else if (t === T2_VARINT) mappingId = small;
    else if (t !== T5_VARINT) return dropLines(out, lines);
  }
  r.pos = end;
  pushLocation(out, id, mappingId, addressAt);
  return true;
}

function pushFunction(c: ScanColumns, id: number, name: number, systemName: number, filename: number): void {
  const k = c.nFunctions++;
  c.fnIds[k] = id;
  c.fnNames[k] = name;
  c.fnSystemNames[k] = systemName;
  c.fnFilenames[k] = filename;
}

function pushLine(c: ScanColumns, functionId: number, line: number): void {
  const j = c.nLines++;
  c.lineFunctionIds[j] = functionId;
  c.lineNumbers[j] = line;
}

/** A location whose lines are pushed already. */
function pushLocation(c: ScanColumns, id: number, mappingId: number, addressAt: number): void {
  const k = c.nLocations++;
  c.locIds[k] = id;
  c.locMappingIds[k] = mappingId;
  c.locAddressAt[k] = addressAt;
  c.lineStart[k + 1] = c.nLines;
}

/** Undoes the lines a fast path pushed before it gave up; false, for it to return. */
function dropLines(c: ScanColumns, length: number): false {
  c.nLines = length;
  return false;
}

function scanLocation(r: WireReader, out: ScanColumns): void {
  if (scanLocationFast(r, out)) return;
  const outer = r.enter();
  let id = 0;
  let mappingId = 0;
  let addressAt = -1;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === T1_VARINT) id = r.varint();
    else if (t === T2_VARINT) mappingId = r.varint();
    else if (t === T3_VARINT) {
      // Where the address is, not its value: only locations that become symbol rows need it as a bigint.
      addressAt = r.pos;
      r.varint();
    } else if (t === T4_BYTES) {
      const o = r.enter();
      let functionId = 0;
      let line = 0;
      while (r.pos < r.end) {
        const lt = r.varint();
        if (lt === T1_VARINT) functionId = r.varint();
        else if (lt === T2_VARINT) line = r.varint();
        else r.skipField(lt);
      }
      r.leave(o);
      pushLine(out, functionId, line);
    } else r.skipField(t);
  }
  r.leave(outer);
  pushLocation(out, id, mappingId, addressAt);
}

/**
 * A pprof message located rather than decoded, for ingest (server/pprof-ingest.ts): strings stay
 * byte ranges of `bytes` (decoded only for symbols the store lacks), samples are flat columns (no
 * array per sample), addresses are positions. Everything else as in PprofMessage.
 */
export interface PprofScan extends PprofHeader {
  readonly bytes: Uint8Array;
  /** String i is `bytes[stringStart[i] .. stringEnd[i])`, UTF-8. */
  readonly stringStart: number[];
  readonly stringEnd: number[];
  readonly locations: PprofScanLocations;
  readonly samples: PprofScanSamples;
}

/** Locations as in PprofLocations, with the byte position of each address (-1: none, i.e. 0). */
export interface PprofScanLocations extends Omit<PprofLocations, 'addresses'> {
  readonly addressAt: number[];
}

/** Sample i: `locationIds[locationStart[i] .. locationStart[i + 1])`, the same for values and label pairs. */
export interface PprofScanSamples {
  readonly locationStart: number[];
  /**
   * Read only by those ranges, and only until the thread's next scan: from scanPprof it is the scan's
   * own reused column (ScanColumns.lendLocationIds), whose entries past the last sample's are stale.
   */
  readonly locationIds: number[];
  readonly valueStart: number[];
  readonly values: number[];
  readonly labelStart: number[];
  readonly labels: number[];
}

/** The uint64 at a position `scanPprof` recorded (an address), exactly. */
export function uint64At(bytes: Uint8Array, at: number): bigint {
  if (at < 0) return 0n;
  const r = new WireReader(bytes);
  r.pos = at;
  return r.uint64();
}

/** The UTF-8 text of string i of a scan (as Buffer decodes it: invalid bytes become U+FFFD). */
export function scanString(scan: PprofScan, i: number, text: Buffer = asBuffer(scan.bytes)): string {
  const from = scan.stringStart[i]!;
  const to = scan.stringEnd[i]!;
  return to === from ? '' : text.toString('utf8', from, to);
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The scan's sixteen columns, written by index into arrays this thread reuses from scan to scan and
 * copied out at the end, each exactly its length. Grown by `push` from empty for every scan they were
 * ≈ 1.7 MiB of JS heap per agent-sized pprof (each array reallocated and copied as it grew, ≈ 3.5× its
 * final size); copied out they are their final size once. Arrays, not typed arrays: they live in the
 * JS heap, so the decode thread's garbage stays JS garbage (typed-array columns reused the same way cut
 * the scavenges that had been freeing the inflated bodies' ArrayBuffers, and full collections for
 * external memory took their place: BENCHMARKS.md, issue 7, stop 22). A scan runs to its end without
 * yielding, so one set per thread serves every scan; `begin` starts over after a scan that threw.
 */
class ScanColumns {
  locationIds: number[] = [];
  values: number[] = [];
  labels: number[] = [];
  locationStart: number[] = [];
  valueStart: number[] = [];
  labelStart: number[] = [];
  fnIds: number[] = [];
  fnNames: number[] = [];
  fnSystemNames: number[] = [];
  fnFilenames: number[] = [];
  locIds: number[] = [];
  locMappingIds: number[] = [];
  locAddressAt: number[] = [];
  lineStart: number[] = [];
  lineFunctionIds: number[] = [];
  lineNumbers: number[] = [];
  stringStart: number[] = [];
  stringEnd: number[] = [];
  nLocationIds = 0;
  nValues = 0;
  nLabels = 0;
  /** Samples read: the three start columns hold one more entry. */
  nSamples = 0;
  nFunctions = 0;
  /** Locations read: lineStart holds one more entry. */
  nLocations = 0;
  nLines = 0;
  nStrings = 0;

  begin(): this {
    this.nLocationIds = this.nValues = this.nLabels = this.nSamples = 0;
    this.nFunctions = this.nLocations = this.nLines = this.nStrings = 0;
    this.locationStart[0] = this.valueStart[0] = this.labelStart[0] = this.lineStart[0] = 0;
    return this;
  }

  /** The columns as exactly-sized arrays of their own (the scan's result); the reused ones stay here. */
  take(): { stringStart: number[]; stringEnd: number[]; functions: PprofFunctions; locations: PprofScanLocations; samples: PprofScanSamples } {
    const out = {
      stringStart: this.cut('stringStart', this.nStrings),
      stringEnd: this.cut('stringEnd', this.nStrings),
      functions: { ids: this.cut('fnIds', this.nFunctions), names: this.cut('fnNames', this.nFunctions), systemNames: this.cut('fnSystemNames', this.nFunctions), filenames: this.cut('fnFilenames', this.nFunctions) },
      locations: {
        ids: this.cut('locIds', this.nLocations),
        mappingIds: this.cut('locMappingIds', this.nLocations),
        addressAt: this.cut('locAddressAt', this.nLocations),
        lineStart: this.cut('lineStart', this.nLocations + 1),
        lineFunctionIds: this.cut('lineFunctionIds', this.nLines),
        lineNumbers: this.cut('lineNumbers', this.nLines),
      },
      samples: {
        locationStart: this.cut('locationStart', this.nSamples + 1),
        locationIds: this.lendLocationIds(),
        valueStart: this.cut('valueStart', this.nSamples + 1),
        values: this.cut('values', this.nValues),
        labelStart: this.cut('labelStart', this.nSamples + 1),
        labels: this.cut('labels', this.nLabels),
      },
    };
    this.begin();
    return out;
  }

  /**
   * The location ids column itself, not a copy: an agent push has ≈ 20 000 ids, past the 16 383
   * entries a JS array holds outside V8's large-object space, so its copy was a new large object per
   * scan (slicing 19 507 entries ≈ 0.25–0.3 ms in a scratch loop, 16 000 ≈ 15–40 µs). Every reader
   * takes sample ranges of it while the scan is in use (readPprof copies them).
   */
  private lendLocationIds(): number[] {
    const a = this.locationIds;
    if (a.length > MAX_KEPT) this.locationIds = [];
    return a;
  }

  /** Column `k`'s first `n` entries copied out; a column grown past MAX_KEPT entries is let go rather than kept for the thread's life. */
  private cut(k: ColumnName, n: number): number[] {
    const a = this[k];
    const out = a.slice(0, n);
    if (a.length > MAX_KEPT) this[k] = [];
    return out;
  }
}

type ColumnName = { [K in keyof ScanColumns]: ScanColumns[K] extends number[] ? K : never }[keyof ScanColumns];

/**
 * Entries a reused column keeps between scans at most (512 KiB of pointers; all sixteen at most 9 MiB
 * per thread, an agent push's largest ≈ 20 000): past it, a huge pprof's column is garbage once read.
 */
const MAX_KEPT = 1 << 16;

const columns = new ScanColumns();

/** `budget`: the request's decode-time limits, checked per sample as it is read (decode-limits.ts). */
export function scanPprof(buf: Uint8Array, budget?: DecodeBudget): PprofScan {
  const r = new WireReader(buf);
  budget?.beginProfile();
  const c = columns.begin();
  const sampleTypes: PprofValueType[] = [];
  let periodType: PprofValueType | undefined;
  let period = 0;
  let timeNanos = 0;
  let durationNanos = 0;
  const mappings: PprofMapping[] = [];
  while (r.pos < r.end) {
    const t = r.varint();
    switch (t) {
      case T1_BYTES:
        sampleTypes.push(readValueType(r));
        break;
      case T2_BYTES:
        scanSample(r, c, budget);
        break;
      case T3_BYTES:
        mappings.push(readMapping(r));
        break;
      case T4_BYTES:
        scanLocation(r, c);
        break;
      case T5_BYTES:
        readFunction(r, c);
        break;
      case T6_BYTES: {
        const end = r.lengthEnd();
        const k = c.nStrings++;
        c.stringStart[k] = r.pos;
        c.stringEnd[k] = end;
        r.pos = end;
        break;
      }
      case T9_VARINT:
        timeNanos = r.varint();
        break;
      case T10_VARINT:
        durationNanos = r.varint();
        break;
      case T11_BYTES:
        periodType = readValueType(r);
        break;
      case T12_VARINT:
        period = r.varint();
        break;
      case T1_VARINT:
      case T2_VARINT:
      case T3_VARINT:
      case T4_VARINT:
      case T5_VARINT:
      case T6_VARINT:
        // A message or string field sent as an integer: malformed, not merely unknown.
        r.fail(`field ${t >> 3} has wire type 0`);
      // falls through (fail throws)
      default:
        r.skipField(t);
    }
  }
  budget?.pprofSymbols(c.nStrings + mappings.length + c.nFunctions + c.nLocations);
  return { bytes: buf, ...columns.take(), sampleTypes, periodType, period, timeNanos, durationNanos, mappings };
}

/** The whole message decoded: strings as text, a sample object per sample, addresses as bigints. */
export function readPprof(buf: Uint8Array, budget?: DecodeBudget): PprofMessage {
  const scan = scanPprof(buf, budget);
  const text = asBuffer(buf);
  const strings = scan.stringStart.map((_, i) => scanString(scan, i, text));
  const { addressAt, ...locs } = scan.locations;
  const s = scan.samples;
  const samples: PprofSample[] = [];
  for (let i = 0; i + 1 < s.locationStart.length; i++) {
    samples.push({
      locationIds: s.locationIds.slice(s.locationStart[i], s.locationStart[i + 1]),
      values: s.values.slice(s.valueStart[i], s.valueStart[i + 1]),
      labels: s.labels.slice(s.labelStart[i], s.labelStart[i + 1]),
    });
  }
  const { bytes: _bytes, stringStart: _start, stringEnd: _end, ...rest } = scan;
  return { ...rest, strings, locations: { ...locs, addresses: addressAt.map((at) => uint64At(buf, at)) }, samples };
}
