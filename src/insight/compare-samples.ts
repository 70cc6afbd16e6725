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
