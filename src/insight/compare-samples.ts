import type { ProfileType } from '../model/profile-type.js';
import type { WeightedStack } from '../query/stacks.js';

/**
 * How much value one sample stands for, so that values can be turned into sample counts for the
 * significance test (significance.ts). Guessing too small a period inflates the counts and makes noise
 * look significant; too large a period only makes the gate less eager. Every fallback below therefore
 * leans towards the larger period.
 */

/** The Kiln agent's rate (DESIGN.md: 19 Hz), the lowest common CPU sampling rate: one sample = 1/19 s. */
export const FALLBACK_CPU_PERIOD_NS = 1e9 / 19;
/** Go's default MemProfileRate: one heap sample per 512 KiB allocated. */
export const FALLBACK_BYTES_PERIOD = 512 * 1024;
/** A sampled CPU profile faster than 1 kHz is not something profilers produce; a gcd below it is rounding. */
const MIN_CPU_PERIOD_NS = 1e6;

/**
 * The sampling period of a selection. `declared` are the periods the profiles carried (pprof's
 * `period`, OTLP's), when known: the largest is taken. Otherwise it is read off the values — each is a
 * whole number of periods, so their greatest common divisor is the period or a multiple of it —
 * and a gcd too small to be a period (merged values rounded per profile, as the agent's 1e9/19 ns are)
 * falls back to the slowest common rate for the unit. Counts are read the same way: most are one per
 * sample (gcd 1), but `perf script` weighs each sample by its event period (1001001 for cpu-clock at
 * 999 Hz), which only the gcd undoes.
 */
export function samplePeriod(type: ProfileType, stacks: readonly WeightedStack[], declared: readonly number[] = []): number {
  const known = declared.filter((p) => Number.isFinite(p) && p > 0);
  if (known.length > 0 && type.periodUnit === type.sampleUnit) return Math.max(...known);
  const g = valuesGcd(stacks);
  if (type.sampleUnit === 'nanoseconds') return g >= MIN_CPU_PERIOD_NS ? g : FALLBACK_CPU_PERIOD_NS;
  if (type.sampleUnit === 'bytes') return Math.max(g, FALLBACK_BYTES_PERIOD);
  return Math.max(g, 1);
}

/** Greatest common divisor of the stacks' values; 0 when there are none, 1 when any is fractional. */
function valuesGcd(stacks: readonly WeightedStack[]): number {
  let g = 0;
  for (const s of stacks) {
    const v = Math.abs(s.value);
    if (v === 0) continue;
    if (!Number.isSafeInteger(v)) return 1;
    let a = g;
    let b = v;
    while (b !== 0) [a, b] = [b, a % b];
    g = a;
    if (g === 1) return 1;
  }
  return g;
}

/**
 * Heap profiles in Go's form (pprof's `alloc_objects`/`alloc_space`, `inuse_objects`/`inuse_space`,
 * Kiln's `memory:…` types) hold *estimates*, not samples: the runtime samples about one allocation per
 * MemProfileRate bytes (512 KiB) and scales each stack's count and bytes up by
 * 1 / (1 − e^(−avg/rate)), avg being the stack's average object size. A 64-byte object's sample thus
 * reads as ~8 000 objects, so objects / period would take noise for a regression; and a 10 MiB object,
 * always sampled, reads as 20 samples of 512 KiB. Both values of a stack together undo the scaling
 * exactly: samples = objects × (1 − e^(−(bytes/objects)/rate)). The partner type is the other half of
 * the pair, read from the same profiles (files) or the same selection (server).
 */
export function heapPartner(type: ProfileType): ProfileType | undefined {
  const pair: Record<string, [string, string]> = {
    alloc_objects: ['alloc_space', 'bytes'],
    alloc_space: ['alloc_objects', 'count'],
    inuse_objects: ['inuse_space', 'bytes'],
    inuse_space: ['inuse_objects', 'count'],
  };
  const other = type.name === 'memory' ? pair[type.sampleType] : undefined;
  if (!other) return undefined;
  const unit = type.sampleType.endsWith('_objects') ? 'count' : 'bytes';
  if (type.sampleUnit !== unit) return undefined;
  return { ...type, sampleType: other[0], sampleUnit: other[1] };
}

/**
 * `stacks` (one half of a heap pair) weighted by sample counts, from `partner` (the other half) and
 * the sampling `rate` in bytes (the profiles' period; Go's default when unknown). A stack the partner
 * lacks keeps value / fallbackPeriod.
 */
export function heapSampleCounts(
  type: ProfileType,
  stacks: readonly WeightedStack[],
  partner: readonly WeightedStack[],
  rate: number,
  fallbackPeriod: number,
): WeightedStack[] {
  const objectsFirst = type.sampleType.endsWith('_objects');
  const partnerValue = new Map<string, number>();
  for (const s of partner) partnerValue.set(stackKey(s), (partnerValue.get(stackKey(s)) ?? 0) + s.value);
  // Stacks that print alike (the same frames from two merges) share the partner's value by their own.
  const ownValue = new Map<string, number>();
  for (const s of stacks) ownValue.set(stackKey(s), (ownValue.get(stackKey(s)) ?? 0) + s.value);
  return stacks.map((s) => {
    const key = stackKey(s);
    const other = partnerValue.get(key);
    if (other === undefined || s.value <= 0) return { frames: s.frames, value: s.value / fallbackPeriod };
    const own = ownValue.get(key)!;
    const [objects, bytes] = objectsFirst ? [own, other] : [other, own];
    return { frames: s.frames, value: (unscaledSamples(objects, bytes, rate) * s.value) / own };
  });
}

/** Go's scaleHeapSample undone: the samples behind `objects` scaled objects of `bytes` scaled bytes. */
export function unscaledSamples(objects: number, bytes: number, rate: number): number {
  if (!(objects > 0) || !(bytes > 0)) return 0;
  if (rate <= 1) return objects;
  return objects * -Math.expm1(-bytes / objects / rate);
}

/** A stack by what it shows (functions, files, lines, addresses): equal across two merges of one store. */
function stackKey(s: WeightedStack): string {
  return s.frames.map((f) => `${f.name}\u0000${f.file}:${f.line}\u0000${f.binary}+${f.address}`).join('\u0001');
}
