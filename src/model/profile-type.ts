import { InputError } from './errors.js';

/**
 * What a profile measures. The id is Pyroscope's 5-part form
 * `name:sample_type:sample_unit:period_type:period_unit` (e.g. `process_cpu:cpu:nanoseconds:cpu:nanoseconds`);
 * Parca's 6-part form with a trailing `:delta` parses to the same type.
 */
export interface ProfileType {
  readonly name: string;
  readonly sampleType: string;
  readonly sampleUnit: string;
  readonly periodType: string;
  readonly periodUnit: string;
}

/** The CPU type the agent writes and the UI opens by default. */
export const CPU_TYPE: ProfileType = {
  name: 'process_cpu',
  sampleType: 'cpu',
  sampleUnit: 'nanoseconds',
  periodType: 'cpu',
  periodUnit: 'nanoseconds',
};

const PART = /^[A-Za-z0-9_.\-]+$/;

export function parseProfileType(id: string): ProfileType {
  const parts = id.split(':');
  if (parts.length === 6 && parts[5] === 'delta') parts.pop();
  // The period may be blank (a pprof without period type, kept as Pyroscope keeps it: `…:cpu:nanoseconds::nanoseconds`).
  if (parts.length !== 5 || !parts.every((p, i) => PART.test(p) || (i >= 3 && p === ''))) {
    throw new InputError(
      `profile type "${id}" is not name:sample_type:sample_unit:period_type:period_unit ` +
        `(e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds)`,
    );
  }
  const [name, sampleType, sampleUnit, periodType, periodUnit] = parts as [string, string, string, string, string];
  return { name, sampleType, sampleUnit, periodType, periodUnit };
}

/** Pyroscope's 5-part id. */
export function profileTypeId(t: ProfileType): string {
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`;
}
