import { Binary, Bool, Dictionary, Field, Int, Int16, Int32, Int64, Int8, List, Uint16, Uint32, Uint64, Uint8, Utf8, makeData, makeVector } from 'apache-arrow';
import type { Data, Vector } from 'apache-arrow';

/**
 * Arrow columns built straight from typed arrays, for the Parca reports. apache-arrow's
 * `vectorFromArray` goes through its builders value by value: for a 65 536-row flame graph that was
 * 25-190 ms per column (~0.7 s a record); filling the buffers here takes a few ms per column.
 */

export type IntColumnType = Int8 | Int16 | Int32 | Int64 | Uint8 | Uint16 | Uint32 | Uint64;

/** Validity bitmap (bit set = value present) from a predicate over rows; undefined when all are present. */
function validity(n: number, present: (row: number) => boolean): { nullBitmap?: Uint8Array; nullCount: number } {
  const bits = new Uint8Array(Math.ceil(n / 8));
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (present(i)) bits[i >> 3]! |= 1 << (i & 7);
    else nullCount++;
  }
  return nullCount === 0 ? { nullCount } : { nullBitmap: bits, nullCount };
}

function typedArrayFor(type: IntColumnType, n: number) {
  if (type instanceof Int64 || type instanceof Uint64) return type instanceof Int64 ? new BigInt64Array(n) : new BigUint64Array(n);
  const ctor = { 8: type.isSigned ? Int8Array : Uint8Array, 16: type.isSigned ? Int16Array : Uint16Array, 32: type.isSigned ? Int32Array : Uint32Array }[type.bitWidth as 8 | 16 | 32];
  return new ctor(n);
}

/** An integer column of `type`; `nulls` marks rows that hold no value. */
export function intColumn(type: IntColumnType, values: ArrayLike<number>, nulls?: (row: number) => boolean): Vector {
  const n = values.length;
  const data = typedArrayFor(type, n);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) for (let i = 0; i < n; i++) data[i] = BigInt(Math.round(values[i]!));
  else data.set(values);
  // Int is the base of every width; the typed array already matches the chosen one.
  return makeVector(makeData({ type: type as Int, length: n, data: data as Int['TArray'], ...validity(n, (i) => !nulls?.(i)) }));
}

/** A boolean column; `nulls` marks rows that hold no value. */
export function boolColumn(values: ArrayLike<boolean>, nulls?: (row: number) => boolean): Vector {
  const n = values.length;
  const { nullBitmap: data } = validity(n, (i) => values[i]!);
  return makeVector(makeData({ type: new Bool(), length: n, data: data ?? new Uint8Array(Math.ceil(n / 8)).fill(0xff), ...validity(n, (i) => !nulls?.(i)) }));
}

/** Same-typed integer column where every row is null. */
export function nullColumn(type: IntColumnType, n: number): Vector {
  return intColumn(type, new Array<number>(n).fill(0), () => true);
}

/**
 * A dictionary-encoded string column: each distinct string stored once, rows index it. `binary`
 * stores the strings as Binary (bytes) instead of Utf8, as Parca's flame graph does.
 */
export function dictionaryColumn(values: readonly (string | null)[], opts: { binary: boolean; index: Int32 | Uint16 | Uint32 }): Vector {
  const n = values.length;
  const ids = new Map<string, number>();
  const indices = typedArrayFor(opts.index, n) as Int32Array | Uint16Array | Uint32Array;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = ids.size));
    indices[i] = id;
  }
  if (ids.size > 2 ** opts.index.bitWidth - 1) throw new RangeError(`${ids.size} distinct strings do not fit a ${opts.index.bitWidth}-bit dictionary index`);
  const encoder = new TextEncoder();
  const bytes = [...ids.keys()].map((s) => encoder.encode(s));
  const valueOffsets = new Int32Array(bytes.length + 1);
  bytes.forEach((b, i) => (valueOffsets[i + 1] = valueOffsets[i]! + b.length));
  const joined = new Uint8Array(valueOffsets[bytes.length]!);
  bytes.forEach((b, i) => joined.set(b, valueOffsets[i]!));
  const dictionary = opts.binary
    ? makeVector(makeData({ type: new Binary(), length: bytes.length, valueOffsets, data: joined }))
    : makeVector(makeData({ type: new Utf8(), length: bytes.length, valueOffsets, data: joined }));
  const type = new Dictionary(dictionary.type, opts.index);
  return makeVector(makeData({ type, length: n, data: indices, dictionary, ...validity(n, (i) => values[i] !== null && values[i] !== undefined) }));
}

/** A column of row-number lists (children, callers, callees); an empty list is written as null. */
export function rowListColumn(item: Uint32 | Int64, lists: readonly (readonly number[])[]): Vector {
  const n = lists.length;
  const valueOffsets = new Int32Array(n + 1);
  lists.forEach((l, i) => (valueOffsets[i + 1] = valueOffsets[i]! + l.length));
  const flat: number[] = [];
  for (const l of lists) for (const x of l) flat.push(x);
  const child: Data = intColumn(item, flat).data[0]!;
  const type = new List<Int>(new Field('item', item as Int, true));
  return makeVector(makeData({ type, length: n, valueOffsets, child: child as Data<Int>, ...validity(n, (i) => lists[i]!.length > 0) }));
}

/** Parca's smallestUnsignedTypeFor: the narrowest width whose maximum is above every value. */
export function unsignedFor(values: ArrayLike<number>): Uint8 | Uint16 | Uint32 | Uint64 {
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, values[i]!);
  if (largest < 0xff) return new Uint8();
  if (largest < 0xffff) return new Uint16();
  if (largest < 0xffffffff) return new Uint32();
  return new Uint64();
}

/** The narrowest signed width holding every value, as Parca chooses it for `diff`. */
export function signedFor(values: ArrayLike<number>): Int8 | Int16 | Int32 | Int64 {
  let largest = 0;
  let smallest = 0;
  for (let i = 0; i < values.length; i++) {
    largest = Math.max(largest, values[i]!);
    smallest = Math.min(smallest, values[i]!);
  }
  const fits = (bits: number) => largest < 2 ** (bits - 1) - 1 && smallest > -(2 ** (bits - 1));
  if (fits(8)) return new Int8();
  if (fits(16)) return new Int16();
  if (fits(32)) return new Int32();
  return new Int64();
}
