import { InputError } from './errors.js';
import { validateLabels } from './labels.js';
import type { Profile } from './profile.js';
import { profileTypeId } from './profile-type.js';
import { parseProfileType } from './profile-type.js';
import type { SymbolDictionary } from './symbols.js';

/**
 * Checks one decoded profile before anything is stored, at a cost linear in its size.
 * Throws an InputError naming the first problem.
 *
 * - labels: the model's rules (Prometheus label names, at most LABEL_LIMITS.maxLabels, value length);
 *   so 10 000 labels or a name like `1-bad` is a 400, never truncated.
 * - values: finite, and non-negative for everything that counts (CPU time, samples, allocations): a
 *   negative count is a broken client. Gauges (`inuse_*`: memory held right now) are the exception: a
 *   delta profile of a gauge legitimately goes negative where memory was freed (Parca's
 *   alloc_space_delta test profile does), so those keep their sign.
 * - stacks must index the dictionary (a codec bug or a crafted payload would otherwise poison queries).
 * - empty profiles (no samples, or all values 0) are NOT errors: Pyroscope accepts them with 200 and
 *   stores nothing; SDKs send them for idle periods. Callers drop them with `isEmptyProfile`.
 *
 * The profiles of one request usually share one dictionary (every sample type and label set of a
 * pprof, every profile of an OTLP request): pass the same `checkedDictionaries` set for the whole
 * request and each dictionary is walked once, not once per profile.
 */
export function validateProfile(p: Profile, checkedDictionaries?: Set<SymbolDictionary>): void {
  parseProfileType(profileTypeId(p.type));
  validateLabels(p.labels);
  if (!(p.timeMs >= 0 && p.timeMs <= MAX_TIME_MS)) throw new InputError(`profile time ${p.timeMs} ms is outside 1970..9999`);
  if (!(p.durationNs >= 0 && p.durationNs <= Number.MAX_SAFE_INTEGER)) {
    throw new InputError(`profile duration ${p.durationNs} ns is not a number between 0 and ${Number.MAX_SAFE_INTEGER}`);
  }
  if (!Number.isFinite(p.period) || p.period < 0) throw new InputError(`profile period ${p.period} is not valid`);
  if (p.stacks.length !== p.values.length) {
    throw new InputError(`profile has ${p.stacks.length} stacks but ${p.values.length} values`);
  }
  const nStacks = p.dict.stacks.length;
  const signed = isGauge(p);
  for (let i = 0; i < p.values.length; i++) {
    const v = p.values[i]!;
    if (!Number.isFinite(v)) throw new InputError(`sample ${i} has value ${v}: values must be finite numbers`);
    if (v < 0 && !signed) throw new InputError(`sample ${i} has negative value ${v}: values must be >= 0`);
    const s = p.stacks[i]!;
    if (!Number.isInteger(s) || s < 0 || s >= nStacks) throw new InputError(`sample ${i} refers to missing stack ${s}`);
  }
  if (checkedDictionaries?.has(p.dict)) return;
  validateDictionary(p.dict);
  checkedDictionaries?.add(p.dict);
}

/**
 * Every index inside the dictionary points at an entry (a codec bug or crafted payload otherwise).
 * Integers as well as bounds: a fractional index passes `< length` yet names no entry.
 */
function validateDictionary(dict: SymbolDictionary): void {
  // `(i >>> 0) === i` is "an integer in [0, 2^32)" (fractions, negatives, NaN and non-numbers fail),
  // the same rule as Number.isInteger(i) && i >= 0 for every index below the bound; written inline
  // because this walks every frame of every stack (≈ 20 000 per agent push).
  const nLocations = dict.locations.length;
  for (const stack of dict.stacks) {
    for (let j = 0; j < stack.length; j++) {
      const l = stack[j]!;
      if ((l >>> 0) !== l || l >= nLocations) throw new InputError(`stack refers to missing location ${l}`);
    }
  }
  const nFunctions = dict.functions.length;
  const nMappings = dict.mappings.length;
  for (const loc of dict.locations) {
    const m = loc.mapping;
    if (m !== -1 && ((m >>> 0) !== m || m >= nMappings)) throw new InputError(`location refers to missing mapping ${m}`);
    for (const ln of loc.lines) {
      const f = ln.function;
      if ((f >>> 0) !== f || f >= nFunctions) throw new InputError(`location refers to missing function ${f}`);
      // Ids hash the line as a 64-bit integer and stores keep it in one: anything else cannot be stored.
      if (!(Number.isInteger(ln.line) && Math.abs(ln.line) < 2 ** 63)) throw new InputError(`line number ${ln.line} is not a 64-bit integer`);
    }
  }
}

/** Latest time a profile may have (end of year 9999): stores name days with four-digit years. */
export const MAX_TIME_MS = 253_402_300_799_999;

/** Types whose value is a level rather than a count, so a delta of it may be negative. */
function isGauge(p: Profile): boolean {
  return p.type.sampleType.startsWith('inuse_');
}

/** No samples with a non-zero value: nothing to store. */
export function isEmptyProfile(p: Profile): boolean {
  for (const v of p.values) if (v !== 0) return false;
  return true;
}
