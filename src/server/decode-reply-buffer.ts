/**
 * A decode thread's reply as one buffer (decode-transfer.ts): numbers are written in order into a
 * header, columns (typed arrays or number arrays) are placed after it, and strings go to a list beside
 * it; the main thread reads them back in the same order. One buffer moves between threads as one
 * object, where a reply of nested objects made the receiving thread define every property of every
 * object again (the property names looked up one by one), the larger part of its deserializing.
 */

/** How a column's elements are stored. */
type ColumnKind = 'i32' | 'f64' | 'u64' | 'u8';

const BYTES: Record<ColumnKind, number> = { i32: 4, f64: 8, u64: 8, u8: 1 };

interface Column {
  readonly kind: ColumnKind;
  readonly values: ArrayLike<number> | BigUint64Array;
  /** Where its byte offset goes in the header (its length is the next entry). */
  readonly headerAt: number;
}

/** Rounds up to a multiple of 8, so every column is aligned for its element type. */
const aligned = (n: number): number => (n + 7) & ~7;

export class ReplyWriter {
  private readonly header: number[] = [];
  private readonly columns: Column[] = [];
  readonly strings: string[] = [];

  num(x: number): void {
    this.header.push(x);
  }

  str(s: string): void {
    this.strings.push(s);
  }

  /** A list of strings: its length, then each. */
  strs(list: readonly string[]): void {
    this.num(list.length);
    for (const s of list) this.strings.push(s);
  }

  i32(values: ArrayLike<number>): void {
    this.column('i32', values);
  }

  f64(values: ArrayLike<number>): void {
    this.column('f64', values);
  }

  u64(values: BigUint64Array): void {
    this.column('u64', values);
  }

  u8(values: ArrayLike<number>): void {
    this.column('u8', values);
  }

  private column(kind: ColumnKind, values: ArrayLike<number> | BigUint64Array): void {
    this.columns.push({ kind, values, headerAt: this.header.length });
    this.header.push(0, values.length);
  }

  /** The buffer: the header's length, the header (f64s), then each column at its offset. */
  finish(): ArrayBuffer {
    let at = 8 * (1 + this.header.length);
    for (const c of this.columns) {
      this.header[c.headerAt] = at;
      at = aligned(at + BYTES[c.kind] * c.values.length);
    }
    const buffer = new ArrayBuffer(at);
    const head = new Float64Array(buffer, 0, 1 + this.header.length);
    head[0] = this.header.length;
    head.set(this.header, 1);
    for (const c of this.columns) {
      const offset = this.header[c.headerAt]!;
      const n = c.values.length;
      if (c.kind === 'u64') new BigUint64Array(buffer, offset, n).set(c.values as BigUint64Array);
      else if (c.kind === 'i32') new Int32Array(buffer, offset, n).set(c.values as ArrayLike<number>);
      else if (c.kind === 'f64') new Float64Array(buffer, offset, n).set(c.values as ArrayLike<number>);
      else new Uint8Array(buffer, offset, n).set(c.values as ArrayLike<number>);
    }
    return buffer;
  }
}

/** Reads a ReplyWriter's buffer and strings back, in the order they were written; columns are views of the buffer. */
export class ReplyReader {
  private readonly header: Float64Array;
  private at = 0;
  private stringAt = 0;

  constructor(
    private readonly buffer: ArrayBuffer,
    private readonly strings: readonly string[],
  ) {
    const n = new Float64Array(buffer, 0, 1)[0]!;
    this.header = new Float64Array(buffer, 8, n);
  }

  /** The next number; small integers come back as small integers (see smallInteger). */
  num(): number {
    return smallInteger(this.header[this.at++]!);
  }

  str(): string {
    const s = this.strings[this.stringAt++];
    if (s === undefined) throw new Error('decode reply: fewer strings than its header names');
    return s;
  }

  /** The next `n` strings written by `strs`. */
  strs(): string[] {
    const out: string[] = new Array(this.num());
    for (let i = 0; i < out.length; i++) out[i] = this.str();
    return out;
  }

  i32(): Int32Array {
    return this.view(Int32Array);
  }

  f64(): Float64Array {
    return this.view(Float64Array);
  }

  u64(): BigUint64Array {
    return this.view(BigUint64Array);
  }

  u8(): Uint8Array {
    return this.view(Uint8Array);
  }

  /** The next column, as a view of the buffer. */
  private view<T>(View: new (buffer: ArrayBuffer, offset: number, length: number) => T): T {
    const offset = this.header[this.at++]!;
    const n = this.header[this.at++]!;
    return new View(this.buffer, offset, n);
  }
}

/**
 * A number read from a Float64Array is a double even when it is a small integer; stored as such, the
 * objects and arrays built from it get other shapes than the decoders' own (small-integer fields), and
 * the write path's hot loops see both kinds. Small integers are turned back into small integers.
 */
export function smallInteger(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}
