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
  /** Rows of the samples recorded inside spans (only when the profile has any). */
  readonly spans?: SpanRows;
}

/** (span, stack, value) rows: what a span profile merges. Values are not scaled. */
export interface SpanRows {
  readonly spanIds: BigUint64Array;
  readonly stackIds: BigUint64Array;
  readonly values: Float64Array;
}

/** A profile's span samples with content stack ids, zeros dropped; undefined when it has none. */
function spanRows(p: Profile, stackWords: Uint32Array): SpanRows | undefined {
  const s = p.spans;
  if (!s || s.spanIds.length === 0) return undefined;
  const keep: number[] = [];
  for (let i = 0; i < s.spanIds.length; i++) if (s.values[i] !== 0) keep.push(i);
  if (keep.length === 0) return undefined;
  const stackIds = new BigUint64Array(keep.length);
  const words = new Uint32Array(stackIds.buffer);
  keep.forEach((i, k) => {
    words[2 * k] = stackWords[2 * s.stacks[i]!]!;
    words[2 * k + 1] = stackWords[2 * s.stacks[i]! + 1]!;
  });
  return {
    spanIds: BigUint64Array.from(keep, (i) => BigInt.asUintN(64, s.spanIds[i]!)),
    stackIds,
    values: Float64Array.from(keep, (i) => s.values[i]!),
  };
}

/**
 * Rows computed where the profile was decoded (a decode worker, beside its content ids), so the event
 * loop does not sort 100 000 rows. Keyed by the profile's sample arrays, which survive the handlers'
 * `{ ...p, labels }` copies; used only for the same samples and the same stack ids they were made from.
 */
const precomputed = new WeakMap<readonly number[], { readonly values: readonly number[]; readonly stackWords: Uint32Array; readonly samples: ProfileSamples }>();

export function attachPrecomputedSamples(p: Profile, stackWords: Uint32Array, samples: ProfileSamples): void {
  precomputed.set(p.stacks, { values: p.values, stackWords, samples });
}

/** Row indices below this fit beside a 32-bit word in one exactly sortable double (2^32 · 2^21 = 2^53). */
const ROW_RADIX = 2 ** 21;

/**
 * Sums duplicate stacks (a profile may list one stack under several pprof labels), drops zero rows,
 * and sorts by stack id, so the profile's content id does not depend on the order its samples came in.
 * `stackWords` holds the dictionary's stack ids as u32 words (low at 2i, high at 2i + 1; see
 * ContentIds.forWrite).
 *
 * Sorted without a bigint: each row becomes one double, `high word · 2^21 + row`, and a Float64Array
 * sorts natively; the rare rows sharing a high word (the same stack twice, or 1 in ~10^4 profiles by
 * chance) are ordered by their low word in place. The Map keyed by bigint this replaces cost ≈ 0.4 ms
 * per 800-row profile on the loaded bench machine, most of it allocating bigints.
 */
export function profileSamples(p: Profile, stackWords: Uint32Array): ProfileSamples {
  const pre = precomputed.get(p.stacks);
  if (pre !== undefined && pre.values === p.values && pre.stackWords.buffer === stackWords.buffer) return pre.samples;
  const samples = stackSamples(p, stackWords);
  const spans = spanRows(p, stackWords);
  return spans ? { ...samples, spans } : samples;
}

function stackSamples(p: Profile, stackWords: Uint32Array): ProfileSamples {
  const n = p.stacks.length;
  if (n >= ROW_RADIX) return profileSamplesByMap(p, stackWords);
  const keys = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (p.values[i] === 0) continue;
    keys[m++] = stackWords[2 * p.stacks[i]! + 1]! * ROW_RADIX + i;
  }
  const sorted = keys.subarray(0, m).sort();
  const ids = new BigUint64Array(m);
  const words = new Uint32Array(ids.buffer);
  const values = new Float64Array(m);
  let k = 0;
  let run: number[] | undefined;
  for (let j = 0; j < m; ) {
    const hi = Math.floor(sorted[j]! / ROW_RADIX);
    let end = j + 1;
    while (end < m && Math.floor(sorted[end]! / ROW_RADIX) === hi) end++;
    if (end === j + 1) {
      const row = sorted[j]! - hi * ROW_RADIX;
      words[2 * k] = stackWords[2 * p.stacks[row]!]!;
      words[2 * k + 1] = hi;
      values[k++] = p.values[row]!;
    } else {
      // Same high word: order by low word, stably (rows keep their order, so sums add up in the
      // order the samples came, as before), then merge equal ids.
      run ??= [];
      run.length = 0;
      for (let r = j; r < end; r++) {
        const row = sorted[r]! - hi * ROW_RADIX;
        const lo = stackWords[2 * p.stacks[row]!]!;
        let at = run.length;
        run.push(row);
        while (at > 0 && stackWords[2 * p.stacks[run[at - 1]!]!]! > lo) {
          run[at] = run[at - 1]!;
          at--;
        }
        run[at] = row;
      }
      let lastLo = -1;
      for (const row of run) {
        const lo = stackWords[2 * p.stacks[row]!]!;
        if (lo === lastLo) {
          values[k - 1] = values[k - 1]! + p.values[row]!;
          continue;
        }
        words[2 * k] = lo;
        words[2 * k + 1] = hi;
        values[k++] = p.values[row]!;
        lastLo = lo;
      }
    }
    j = end;
  }
  const stackIds = k === m ? ids : ids.slice(0, k);
  const scaled = k === m ? values : values.slice(0, k);
  return withScale(stackIds, scaled);
}

/** The plain way, for profiles with more rows than ROW_RADIX. */
function profileSamplesByMap(p: Profile, stackWords: Uint32Array): ProfileSamples {
  const sums = new Map<Id, number>();
  for (let i = 0; i < p.stacks.length; i++) {
    const v = p.values[i]!;
    if (v === 0) continue;
    const s = p.stacks[i]!;
    const k = (BigInt(stackWords[2 * s + 1]!) << 32n) | BigInt(stackWords[2 * s]!);
    sums.set(k, (sums.get(k) ?? 0) + v);
  }
  const stackIds = BigUint64Array.from(sums.keys()).sort();
  const values = new Float64Array(stackIds.length);
  for (let i = 0; i < stackIds.length; i++) values[i] = sums.get(stackIds[i]!)!;
  return withScale(stackIds, values);
}

/** Total, and the values divided by their gcd (in place). */
function withScale(stackIds: BigUint64Array, values: Float64Array): ProfileSamples {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
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
