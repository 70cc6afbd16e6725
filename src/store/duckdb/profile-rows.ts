import xxhash from 'xxhash-wasm';
import type { Id, Profile } from '../../model/index.js';

const { h64Raw } = await xxhash();

/** One profile reduced to what the samples table holds: rows by stack key, sorted, zeros dropped. */
export interface ProfileRows {
  readonly stackKeys: Int32Array;
  /** `value / scale` per row (exact integers for integer profiles). */
  readonly scaled: Float64Array;
  readonly scale: number;
  readonly total: number;
}

/**
 * Sums duplicate stacks (a profile may list one stack under several pprof labels), drops zero rows,
 * and sorts by stack key: sorted small integers delta-encode well, and the order makes the profile's
 * content id independent of the order its samples came in.
 */
export function profileRows(p: Profile, keysOfDictStacks: Int32Array): ProfileRows {
  const sums = new Map<number, number>();
  for (let i = 0; i < p.stacks.length; i++) {
    const v = p.values[i]!;
    if (v === 0) continue;
    const k = keysOfDictStacks[p.stacks[i]!]!;
    sums.set(k, (sums.get(k) ?? 0) + v);
  }
  const stackKeys = Int32Array.from(sums.keys()).sort();
  const values = new Float64Array(stackKeys.length);
  let total = 0;
  for (let i = 0; i < stackKeys.length; i++) {
    const v = sums.get(stackKeys[i]!)!;
    values[i] = v;
    total += v;
  }
  const scale = commonDivisor(values);
  if (scale !== 1) for (let i = 0; i < values.length; i++) values[i] = values[i]! / scale;
  return { stackKeys, scaled: values, scale, total };
}

/** Greatest common divisor of integer values (e.g. the sampling period); 1 when any is fractional. */
export function commonDivisor(values: Float64Array): number {
  let g = 0;
  for (const raw of values) {
    if (!Number.isInteger(raw)) return 1;
    let a = Math.abs(raw);
    let b = g;
    while (b !== 0) [a, b] = [b, a % b];
    g = a;
    if (g === 1) return 1;
  }
  return g === 0 ? 1 : g;
}

/**
 * Id of a stored profile within this store (rows are keyed by stack key): series, window and rows. A replayed write hashes to the same id
 * and is skipped; two different profiles of one series at the same instant both count.
 */
export function profileContentId(series: Id, p: Profile, rows: ProfileRows): Id {
  const n = rows.stackKeys.length;
  const buf = new ArrayBuffer(32 + 8 * n + 4 * n);
  const head = new BigUint64Array(buf, 0, 3);
  head[0] = series;
  head[1] = BigInt.asUintN(64, BigInt(Math.floor(p.timeMs)));
  head[2] = BigInt.asUintN(64, BigInt(Math.floor(p.durationNs)));
  new Float64Array(buf, 24, 1)[0] = rows.scale;
  new Float64Array(buf, 32, n).set(rows.scaled);
  new Int32Array(buf, 32 + 8 * n, n).set(rows.stackKeys);
  return h64Raw(new Uint8Array(buf));
}
