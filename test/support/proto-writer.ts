/**
 * A minimal protobuf (proto3 wire format) writer for tests that must send bytes exactly as another
 * client lays them out — by field number, independent of Kiln's generated code — so a wrong field
 * number on either side shows.
 */
export type ProtoField =
  | [number, 'varint', number | bigint]
  | [number, 'string', string]
  | [number, 'bytes', Uint8Array]
  | [number, 'double', number]
  | [number, 'fixed64', bigint];

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function protoMessage(fields: readonly ProtoField[]): Uint8Array {
  const out: number[] = [];
  for (const [no, kind, value] of fields) {
    if (kind === 'varint') out.push(...varint(BigInt(no << 3)), ...varint(BigInt(value)));
    else if (kind === 'double' || kind === 'fixed64') {
      const b = Buffer.alloc(8);
      if (kind === 'double') b.writeDoubleLE(value);
      else b.writeBigUInt64LE(value);
      out.push(...varint(BigInt((no << 3) | 1)), ...b);
    } else {
      const bytes = kind === 'string' ? Buffer.from(value, 'utf8') : value;
      out.push(...varint(BigInt((no << 3) | 2)), ...varint(BigInt(bytes.length)), ...bytes);
    }
  }
  return Uint8Array.from(out);
}

/** A packed repeated varint field's payload. */
export function packed(values: readonly number[]): Uint8Array {
  return Uint8Array.from(values.flatMap((v) => varint(BigInt(v))));
}
