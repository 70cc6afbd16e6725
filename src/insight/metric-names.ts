import { InputError } from '../model/errors.js';
import type { ProfileType } from '../model/profile-type.js';
import { profileTypeId } from '../model/profile-type.js';

/**
 * How a profile type becomes a Prometheus metric. Profiles hold amounts summed over time (CPU
 * nanoseconds, allocated bytes, contentions); the bridge divides an amount over a window by the
 * window's length, so every metric is a rate per second in a base unit, as Prometheus' naming
 * guidelines ask: CPU nanoseconds per second become cores (`kiln_function_cpu_cores`), bytes per
 * second stay bytes (`kiln_function_alloc_bytes_per_second`), counts become `…_per_second`.
 */
export interface MetricUnit {
  /** Name part after `kiln_function_` / `kiln_service_`, e.g. `cpu_cores`, `alloc_bytes_per_second`. */
  readonly suffix: string;
  /** Multiplies a stored amount per second into the base unit (nanoseconds → seconds: 1e-9). */
  readonly scale: number;
  /** What one unit of the metric is, for HELP lines. */
  readonly means: string;
}

/** Prometheus metric names (recording rules may use `:`). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Time units a profile may count in, to seconds. */
const TIME_UNITS: Record<string, number> = { nanoseconds: 1e-9, microseconds: 1e-6, milliseconds: 1e-3, seconds: 1 };

/**
 * The metric unit of a profile type, or an InputError when it has none: snapshot types (in-use memory,
 * goroutine counts) are levels at an instant, and a sum of snapshots over a window is no rate.
 */
export function metricUnit(t: ProfileType): MetricUnit {
  const sample = t.sampleType.toLowerCase();
  if (sample.startsWith('inuse') || sample.startsWith('goroutine')) {
    throw new InputError(
      `profile type ${profileTypeId(t)} holds snapshots (${t.sampleType}), not amounts over time: it has no rate per second to export`,
    );
  }
  const base = metricPrefix(t) + metricWord(sample);
  const unit = t.sampleUnit.toLowerCase();
  const toSeconds = TIME_UNITS[unit];
  if (toSeconds !== undefined) {
    // CPU time per second of wall time is the number of cores busy: the unit everybody reads CPU in.
    if (sample === 'cpu') return { suffix: 'cpu_cores', scale: toSeconds, means: 'CPU cores (CPU seconds per second)' };
    return { suffix: `${base}_seconds_per_second`, scale: toSeconds, means: `${t.sampleType} seconds per second` };
  }
  if (unit === 'bytes') {
    // alloc_space / alloc_size are bytes already: `alloc_bytes_per_second`, not `alloc_space_bytes_…`.
    const word = base.replace(/_(space|size|bytes)$/, '');
    return { suffix: `${word}_bytes_per_second`, scale: 1, means: `${t.sampleType} bytes per second` };
  }
  if (unit === 'count' || unit === 'samples' || unit === '') {
    return { suffix: `${base}_per_second`, scale: 1, means: `${t.sampleType} per second` };
  }
  throw new InputError(`profile type ${profileTypeId(t)}: unit "${t.sampleUnit}" has no Prometheus base unit Kiln knows (time units, bytes, count)`);
}

/**
 * Block and mutex profiles share their sample types (`delay`, `contentions`): their type name goes in
 * front (`mutex_delay_seconds_per_second`) so both can be exported. CPU and memory types read well
 * without it (`cpu_cores`, `alloc_bytes_per_second`), as does a sample type that already starts with
 * its type's name (`wall:wall`, `exception:exception`).
 */
function metricPrefix(t: ProfileType): string {
  const name = metricWord(t.name.toLowerCase());
  if (name === 'process_cpu' || name === 'memory' || metricWord(t.sampleType.toLowerCase()).startsWith(name)) return '';
  return `${name}_`;
}

/** A sample type as a metric name part: lower case, anything but [a-z0-9_] becomes `_`. */
function metricWord(sampleType: string): string {
  const w = sampleType.replace(/[^a-z0-9_]/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
  return w === '' ? 'value' : w;
}

/**
 * The unit's name without its rate part — `cpu` for `cpu_cores`, `alloc_bytes` for
 * `alloc_bytes_per_second` — for metrics derived from the rate in another unit (cost per hour, a score).
 */
export function metricStem(unit: MetricUnit): string {
  return unit.suffix.replace(/_cores$|_per_second$/, '');
}

export const FUNCTION_PREFIX = 'kiln_function_';
export const SERVICE_PREFIX = 'kiln_service_';
