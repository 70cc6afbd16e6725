import xxhash from 'xxhash-wasm';
import type { Id, Profile } from '../model/index.js';

const { h64Raw } = await xxhash();

/** One profile reduced to what the samples hold: one row per distinct stack id, sorted, zeros dropped. */
export interface ProfileSamples {
  readonly stackIds: BigUint64Array;
  /** `value / scale` per row (exact integers for integer profiles). */
  readonly scaled: Float64Array;
  readonly scale: number;
  readonly total: number;
}

/**
 * Sums duplicate stacks (a profile may list one stack under several pprof labels), drops zero rows,
 * and sorts by stack id, so the profile's content id does not depend on the order its samples came in.
 * `stackIdsOfDict[i]` is the content id of the dictionary's stack i.
 */
export function profileSamples(p: Profile, stackIdsOfDict: readonly Id[]): ProfileSamples {
  const sums = new Map<Id, number>();
  for (let i = 0; i < p.stacks.length; i++) {
    const v = p.values[i]!;
    if (v === 0) continue;
    const k = stackIdsOfDict[p.stacks[i]!]!;
    sums.set(k, (sums.get(k) ?? 0) + v);
  }
  const stackIds = BigUint64Array.from(sums.keys()).sort();
  const values = new Float64Array(stackIds.length);
  let total = 0;
  for (let i = 0; i < stackIds.length; i++) {
    const v = sums.get(stackIds[i]!)!;
    values[i] = v;
    total += v;
  }
  const scale = commonDivisor(values);
  if (scale !== 1) for (let i = 0; i < values.length; i++) values[i] = values[i]! / scale;
  return { stackIds, scaled: values, scale, total };
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
 * Content id of a stored profile: series, window and samples. A replayed write hashes to the same id
 * and is skipped; two different profiles of one series at the same instant both count. Made of
 * content ids only, so every server computes the same id for the same profile.
 */
export function profileContentId(series: Id, p: Profile, s: ProfileSamples): Id {
  const n = s.stackIds.length;
  const buf = new ArrayBuffer(32 + 16 * n);
  const head = new BigUint64Array(buf, 0, 3);
  head[0] = series;
  head[1] = BigInt.asUintN(64, BigInt(Math.floor(p.timeMs)));
  head[2] = BigInt.asUintN(64, BigInt(Math.floor(p.durationNs)));
  new Float64Array(buf, 24, 1)[0] = s.scale;
  new Float64Array(buf, 32, n).set(s.scaled);
  new BigUint64Array(buf, 32 + 8 * n, n).set(s.stackIds);
  return h64Raw(new Uint8Array(buf));
}
