import { CPU_TYPE, type ProfileType } from '../model/profile-type.js';

/**
 * Which Kiln profile type an OTLP profile's sample type and period type make, and what each sample
 * value must be multiplied by to be in that type's unit.
 *
 * - `samples/count` with period type `cpu/nanoseconds` (what the OpenTelemetry eBPF profiler sends):
 *   CPU time, `process_cpu:cpu:nanoseconds:cpu:nanoseconds`, each count × period — as Pyroscope does.
 * - `cpu/nanoseconds` (already time, what Kiln's own agent sends): the same type, values as they are.
 * - `off_cpu/nanoseconds`: `off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds`.
 * - anything else keeps its units; the name is the `kiln.profile.name` profile attribute when a Kiln
 *   encoder set it, `memory` for Go-style `alloc_*` / `inuse_*` sample types, else the sample type.
 *
 * A missing period type repeats the sample type (Kiln's type id has no empty parts), and characters
 * a type id cannot hold become `_`.
 */

/** Profile attribute carrying Kiln's profile type name, so types other than CPU survive a round trip. */
export const PROFILE_NAME_ATTRIBUTE = 'kiln.profile.name';

export interface OtlpValueTypes {
  readonly sampleType: string;
  readonly sampleUnit: string;
  /** '' when the profile has no period type. */
  readonly periodType: string;
  readonly periodUnit: string;
  /** Events per sample occurrence (0 when unknown). */
  readonly period: number;
  /** From PROFILE_NAME_ATTRIBUTE, when present. */
  readonly name?: string;
}

export interface KilnTypeMapping {
  readonly type: ProfileType;
  /** Multiply each OTLP sample value by this. */
  readonly scale: number;
  /** The profile's period in the Kiln type's period unit. */
  readonly period: number;
}

const BAD_PART = /[^A-Za-z0-9_.\-]/g;

function part(s: string, fallback: string): string {
  const cleaned = s.replace(BAD_PART, '_');
  return cleaned === '' ? fallback : cleaned;
}

export function kilnTypeOf(t: OtlpValueTypes): KilnTypeMapping {
  const periodIsCpuNs = t.periodType === 'cpu' && t.periodUnit === 'nanoseconds';
  if (t.sampleType === 'samples' && t.sampleUnit === 'count' && periodIsCpuNs && t.period > 0) {
    return { type: CPU_TYPE, scale: t.period, period: t.period };
  }
  if (t.sampleType === 'cpu' && t.sampleUnit === 'nanoseconds' && (t.periodType === '' || periodIsCpuNs) && !t.name) {
    return { type: CPU_TYPE, scale: 1, period: t.period };
  }
  const sampleType = part(t.sampleType, 'samples');
  const sampleUnit = part(t.sampleUnit, 'count');
  const periodType = t.periodType === '' ? sampleType : part(t.periodType, sampleType);
  const periodUnit = t.periodType === '' ? sampleUnit : part(t.periodUnit, sampleUnit);
  const name = part(t.name ?? (/^(alloc|inuse)_/.test(sampleType) ? 'memory' : sampleType), sampleType);
  return { type: { name, sampleType, sampleUnit, periodType, periodUnit }, scale: 1, period: t.period };
}

/** The other way: what an encoder writes for a Kiln type (values are written unscaled). */
export function otlpTypesOf(type: ProfileType, period: number): OtlpValueTypes {
  const { sampleType, sampleUnit, periodType, periodUnit } = type;
  const derived = kilnTypeOf({ sampleType, sampleUnit, periodType, periodUnit, period: 0 });
  const needsName = derived.type.name !== type.name;
  return {
    sampleType: type.sampleType,
    sampleUnit: type.sampleUnit,
    periodType: type.periodType,
    periodUnit: type.periodUnit,
    period,
    ...(needsName ? { name: type.name } : {}),
  };
}
