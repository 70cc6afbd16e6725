import { InputError } from '../model/errors.js';

/** Every structural problem of a JFR file: a 400 that says what was wrong and where. */
export function malformedJfr(what: string, offset: number): InputError {
  return new InputError(`malformed JFR: ${what} (at byte ${offset})`, 400);
}

const TWO_32 = 4294967296;

/**
 * A bounds-checked big-endian cursor over one region of a JFR file (a chunk or one event). JFR writes
 * its integers either fixed-width or, when the chunk's "compressed integers" feature bit is set, as
 * LEB128-style varints of up to 9 bytes (the 9th carries 8 bits); both are read here. Longs come back
 * as JS numbers, exact up to 2^53 — ids and sizes in real recordings stay far below that.
 */
export class JfrInput {
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    /** One past the last byte this cursor may read. */
    public end: number,
    readonly compressed: boolean,
  ) {
    if (end > buf.length || pos < 0 || pos > end) throw malformedJfr(`region ${pos}..${end} is outside the ${buf.length}-byte file`, pos);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Points the cursor at another region of the same file (one cursor serves every event of a chunk). */
  moveTo(pos: number, end: number): void {
    if (end > this.buf.length || pos < 0 || pos > end) throw malformedJfr(`region ${pos}..${end} is outside the ${this.buf.length}-byte file`, pos);
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw malformedJfr(`needs ${n} more bytes, ${this.end - this.pos} left (truncated?)`, this.pos);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /** Fixed-width fields: the chunk header and uncompressed chunks. */
  fixed32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    this.need(8);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  /** The two 32-bit halves of a varint, exactly (a negative int is written sign-extended to 64 bits). */
  private varint(): { lo: number; hi: number } {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 9; i++) {
      const b = this.u8();
      if (i === 8) {
        hi |= b << 24;
        break;
      }
      const v = b & 0x7f;
      const shift = 7 * i;
      if (shift < 32) {
        lo |= v << shift;
        if (shift + 7 > 32) hi |= v >>> (32 - shift);
      } else {
        hi |= v << (shift - 32);
      }
      if ((b & 0x80) === 0) break;
    }
    return { lo: lo >>> 0, hi: hi | 0 };
  }

  int(): number {
    if (!this.compressed) return this.fixed32();
    return this.varint().lo | 0;
  }

  long(): number {
    if (!this.compressed) return this.fixed64();
    const { lo, hi } = this.varint();
    return hi * TWO_32 + lo;
  }

  short(): number {
    if (!this.compressed) {
      this.need(2);
      const v = this.view.getInt16(this.pos);
      this.pos += 2;
      return v;
    }
    return (this.varint().lo << 16) >> 16;
  }

  char(): number {
    return this.short() & 0xffff;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A count of things that take at least `minBytes` each: refused when the rest of the region cannot hold them. */
  count(what: string, minBytes = 1): number {
    const at = this.pos;
    const n = this.int();
    if (n < 0 || n * minBytes > this.remaining) throw malformedJfr(`${what} count ${n} does not fit in the ${this.remaining} bytes left`, at);
    return n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** JFR string encodings (first byte): null, empty, constant-pool reference, UTF-8, UTF-16 chars, Latin-1. */
export type JfrString = string | null | { readonly poolRef: number };

export function readJfrString(input: JfrInput): JfrString {
  const at = input.pos;
  const encoding = input.u8();
  switch (encoding) {
    case 0:
      return null;
    case 1:
      return '';
    case 2:
      return { poolRef: input.long() };
    case 3:
      return utf8.decode(input.bytes(input.count('UTF-8 string byte')));
    case 4: {
      const n = input.count('string char');
      const codes: number[] = new Array<number>(n);
      for (let i = 0; i < n; i++) codes[i] = input.char();
      let s = '';
      // In slices: String.fromCharCode takes its arguments on the stack.
      for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...codes.slice(i, i + 8192));
      return s;
    }
    case 5:
      return latin1.decode(input.bytes(input.count('Latin-1 string byte')));
    default:
      throw malformedJfr(`unknown string encoding ${encoding}`, at);
  }
}
