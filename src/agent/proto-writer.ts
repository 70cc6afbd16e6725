/**
 * A protobuf writer into one growing byte buffer, for the agent's hot encoders: no message objects,
 * no reflection. Nested messages are written in place after a one-byte length, which is widened (the
 * body moved) in the rare case the body passes 127 bytes, so the output is canonical protobuf — the
 * same bytes a generated encoder writes for the same fields in the same order.
 */

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
}

export class ProtoWriter {
  // A Buffer for its utf8 write, which encodes a string in place (TextEncoder.encodeInto needs a view
  // of the destination: one object per string written).
  private buf = Buffer.alloc(64 * 1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  /** Start of each open message's body, innermost last. */
  private readonly open: number[] = [];

  /** The bytes written so far (a copy: the buffer is reused after reset()). */
  finish(): Uint8Array {
    if (this.open.length > 0) throw new Error('ProtoWriter: a message is still open');
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  reset(): void {
    this.pos = 0;
    this.open.length = 0;
  }

  /** Opens a length-delimited field holding a message; close with end(). */
  begin(field: number): void {
    this.tag(field, Wire.Len);
    this.ensure(1);
    this.pos++; // the length, one byte until end() knows better
    this.open.push(this.pos);
  }

  end(): void {
    const start = this.open.pop()!;
    const len = this.pos - start;
    const size = varintSize(len);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(start + size - 1, start, this.pos);
      this.pos += size - 1;
    }
    let at = start - 1;
    let n = len;
    while (n >= 0x80) {
      this.buf[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[at] = n;
  }

  /** An empty message field (the null entry OTLP tables start with). */
  emptyMessage(field: number): void {
    this.tag(field, Wire.Len);
    this.byte(0);
  }

  /** A non-negative integer field (int32, int64, uint64 up to 2^53), left out when 0. */
  uint(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, Wire.Varint);
    this.varint(v);
  }

  /** A uint64 field (any 64-bit value: kernel addresses pass 2^53), left out when 0. */
  uint64(field: number, v: bigint): void {
    if (v === 0n) return;
    if (v <= MAX_SAFE) return this.uint(field, Number(v));
    this.tag(field, Wire.Varint);
    this.ensure(10);
    let b = BigInt.asUintN(64, v);
    while (b >= 0x80n) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  /** A string field, left out when empty unless `always` (a oneof member has presence). */
  string(field: number, s: string, always = false): void {
    if (s === '' && !always) return;
    this.tag(field, Wire.Len);
    // UTF-8 is at most 3 bytes per UTF-16 unit: reserve that, write, then the real length.
    const max = s.length * 3;
    if (max < 0x80) {
      this.ensure(1 + max);
      const n = this.utf8(s, this.pos + 1);
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.utf8(s, this.pos);
    this.pos += n;
  }

  /** A fixed64 field, left out when 0. */
  fixed64(field: number, v: bigint): void {
    if (v === 0n) return;
    this.tag(field, Wire.Fixed64);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  /** A packed repeated field of non-negative integers below 2^53, left out when empty. */
  packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.tag(field, Wire.Len);
    let len = 0;
    for (let i = 0; i < values.length; i++) len += varintSize(values[i]!);
    this.varint(len);
    for (let i = 0; i < values.length; i++) this.varint(values[i]!);
  }

  /** A packed repeated fixed64 field of `ids[i]` for each index in `indices`, left out when empty. */
  packedFixed64Of(field: number, indices: readonly number[], ids: readonly bigint[]): void {
    if (indices.length === 0) return;
    this.tag(field, Wire.Len);
    this.varint(8 * indices.length);
    this.ensure(8 * indices.length);
    for (let i = 0; i < indices.length; i++, this.pos += 8) this.view.setBigUint64(this.pos, ids[indices[i]!]!, true);
  }

  /** A packed repeated int64 field (negative values as ten-byte two's complement, as protobuf writes them), left out when empty. */
  packedInt64(field: number, values: readonly number[]): void {
    if (values.every((v) => v >= 0)) return this.packed(field, values);
    const sub = new ProtoWriter();
    for (const v of values) sub.int64Value(v);
    const bytes = sub.buf.subarray(0, sub.pos);
    this.tag(field, Wire.Len);
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** An int64 field (negative values as ten-byte two's complement), left out when 0. */
  int64(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, Wire.Varint);
    this.int64Value(v);
  }

  private int64Value(v: number): void {
    if (v >= 0) return this.varint(v);
    this.ensure(10);
    let b = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    while (b >= 0x80n) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  /** A double field, left out when 0. */
  double(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, Wire.Fixed64);
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A packed repeated field holding one value (what a generated encoder writes for `[v]`). */
  packedOne(field: number, v: number): void {
    this.tag(field, Wire.Len);
    this.varint(varintSize(v));
    this.varint(v);
  }

  private tag(field: number, wire: Wire): void {
    this.varint(field * 8 + wire);
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private varint(v: number): void {
    this.ensure(10);
    if (v >= 0 && v <= 0x7fffffff) {
      // The common case (indices, small values), in 32-bit integer steps.
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`ProtoWriter: ${v} is not a non-negative integer below 2^53`);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  private utf8(s: string, at: number): number {
    return this.buf.write(s, at, 'utf8');
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  // Past 28 bits: one more byte per 7 bits left.
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
