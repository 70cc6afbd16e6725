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
  if (!Number.isFinite(p.timeMs) || p.timeMs < 0) throw new InputError(`profile time ${p.timeMs} is not a valid Unix time`);
  if (!Number.isFinite(p.durationNs) || p.durationNs < 0) throw new InputError(`profile duration ${p.durationNs} is not valid`);
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

/** Every index inside the dictionary points at an entry (a codec bug or crafted payload otherwise). */
function validateDictionary(dict: SymbolDictionary): void {
  const nLocations = dict.locations.length;
  for (const stack of dict.stacks) {
    for (const l of stack) if (!(l >= 0 && l < nLocations)) throw new InputError(`stack refers to missing location ${l}`);
  }
  const nFunctions = dict.functions.length;
  const nMappings = dict.mappings.length;
  for (const loc of dict.locations) {
    if (loc.mapping < -1 || loc.mapping >= nMappings) throw new InputError(`location refers to missing mapping ${loc.mapping}`);
    for (const ln of loc.lines) {
      if (!(ln.function >= 0 && ln.function < nFunctions)) throw new InputError(`location refers to missing function ${ln.function}`);
    }
  }
}

/** Types whose value is a level rather than a count, so a delta of it may be negative. */
function isGauge(p: Profile): boolean {
  return p.type.sampleType.startsWith('inuse_');
}

/** No samples with a non-zero value: nothing to store. */
export function isEmptyProfile(p: Profile): boolean {
  for (const v of p.values) if (v !== 0) return false;
  return true;
}
