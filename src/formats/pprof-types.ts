import type { ProfileType } from '../model/index.js';

/**
 * Names a pprof sample type the way Pyroscope's profile type ids read, so a Go, Java, .NET, Ruby or Node
 * profile lands under the ids Grafana and Pyroscope users already know:
 *   Go CPU      process_cpu:cpu:nanoseconds:cpu:nanoseconds, process_cpu:samples:count:cpu:nanoseconds
 *   Go heap     memory:{alloc,inuse}_{space,objects}:{bytes,count}:space:bytes
 *   goroutines  goroutines:goroutine:count:goroutine:count
 *   mutex/block mutex:delay:nanoseconds:contentions:count, block:contentions:count:contentions:count
 *   Java (JFR)  memory:alloc_in_new_tlab_bytes:bytes:space:bytes, mutex:contentions:count:mutex:count, wall:…
 *   .NET        exceptions:exception:count:…, mutex:lock_count:count:…, memory:alloc_size:bytes:…
 * Pyroscope's own /ingest picks one name per profile from its first sample type; Kiln names each sample
 * type on its own, because a .NET profile mixes CPU, allocations, locks and exceptions, and one name for
 * all of them would file exceptions under `process_cpu`.
 */

/** `name=app.cpu` suffixes (Pyroscope SDK spelling) → profile type name. */
const SUFFIX_NAMES: Record<string, string> = {
  cpu: 'process_cpu',
  itimer: 'process_cpu',
  wall: 'wall',
  alloc_objects: 'memory',
  alloc_space: 'memory',
  inuse_objects: 'memory',
  inuse_space: 'memory',
  goroutines: 'goroutines',
  goroutine: 'goroutines',
  mutex: 'mutex',
  block: 'block',
  mutex_count: 'mutex',
  mutex_duration: 'mutex',
  block_count: 'block',
  block_duration: 'block',
  exceptions: 'exceptions',
};

const TYPE_PART = /^[A-Za-z0-9_.\-]+$/;

/** The type name a `name` parameter asks for by its suffix (`checkout.cpu` → `process_cpu`), if any. */
export function nameFromSuffix(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const base = name.replace(/\{.*$/s, '');
  const dot = base.lastIndexOf('.');
  if (dot < 0) return undefined;
  const suffix = base.slice(dot + 1);
  if (SUFFIX_NAMES[suffix]) return SUFFIX_NAMES[suffix];
  return undefined;
}

/** pprof writers differ in spelling (.NET writes `alloc-size`); ids use underscores. */
function part(s: string): string {
  return s.replace(/-/g, '_').replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The type name for one sample type, from what it measures and what the profile's period counts. */
function inferName(sampleType: string, periodType: string, allTypes: readonly string[]): string {
  const st = sampleType;
  if (st === 'wall' || periodType === 'wall' || periodType === 'wallclock') return 'wall';
  if (st === 'cpu' || st === 'itimer') return 'process_cpu';
  if (/^(alloc|inuse)_|^alloc-|^alloc_in_|^alloc_outside|^(space|objects)$/.test(st)) return 'memory';
  if (st === 'goroutine' || st === 'goroutines') return 'goroutines';
  if (st.startsWith('exception')) return 'exceptions';
  if (/^lock[_-]/.test(st) || st.startsWith('mutex')) return 'mutex';
  if (st.startsWith('block')) return 'block';
  if ((st === 'contentions' || st === 'delay') && allTypes.includes('contentions')) {
    // Go writes mutex and block profiles with the same sample types; only the period type or the
    // `name=` suffix tells them apart, and mutex is what Go's /debug/pprof/mutex and most SDKs send.
    return periodType === 'block' ? 'block' : 'mutex';
  }
  if (periodType === 'cpu' || st === 'samples') return 'process_cpu';
  return part(st) || 'unknown';
}

export interface PprofTypeInput {
  readonly sampleType: string;
  readonly sampleUnit: string;
  readonly periodType: string;
  readonly periodUnit: string;
}

/** ProfileTypes for every sample type of a profile, index-aligned with them. */
export function pprofProfileTypes(types: readonly PprofTypeInput[], name?: string): ProfileType[] {
  const all = types.map((t) => t.sampleType);
  const inferred = types.map((t) => inferName(t.sampleType, t.periodType, all));
  // The suffix names the whole profile, so it only applies when the profile measures one kind of thing;
  // a mixed profile (.NET: cpu + exceptions + locks) keeps a name per sample type.
  const fromSuffix = new Set(inferred).size <= 1 ? nameFromSuffix(name) : undefined;
  return types.map((t, i) => {
    const sampleType = part(t.sampleType) || 'samples';
    const sampleUnit = part(t.sampleUnit) || 'count';
    const typeName = fromSuffix ?? inferred[i]!;
    // A period the writer left blank stays blank, as in Pyroscope's ids (Ruby and older .NET agents
    // write `process_cpu:cpu:nanoseconds::nanoseconds`): inventing one would file the profile under an
    // id that Grafana panels built on Pyroscope's ids never ask for.
    const periodType = part(t.periodType);
    const periodUnit = part(t.periodUnit);
    const out = { name: typeName, sampleType, sampleUnit, periodType, periodUnit };
    if (![typeName, sampleType, sampleUnit].every((v) => TYPE_PART.test(v))) return { ...out, name: 'unknown' };
    return out;
  });
}

/** Pyroscope SDKs' per-sample-type settings, sent as the `sample_type_config` part beside a multipart pprof. */
export type SampleTypeConfig = Record<string, { units?: string; aggregation?: string; 'display-name'?: string; cumulative?: boolean; sampled?: boolean }>;

/**
 * The profile type name a `display-name` of `sample_type_config` chooses, as Pyroscope reads it: the
 * display name only picks the name (a Go SDK block profile says `block_count`/`block_duration` for
 * `contentions`/`delay`, its mutex profile `mutex_count`/`mutex_duration`, goroutines `goroutines`)
 * and never renames the sample type, so the ids are `block:delay:nanoseconds:contentions:count`,
 * `mutex:contentions:count:contentions:count`, `goroutines:goroutine:count:goroutine:count`.
 * Undefined when the config says nothing that names a type (the decoder's name then stands).
 */
export function nameFromDisplayName(sampleType: string, config: SampleTypeConfig): string | undefined {
  const display = config[sampleType]?.['display-name'];
  if (!display) return undefined;
  if (display.includes('cpu')) return 'process_cpu';
  if (display.includes('alloc_') || display.includes('inuse_') || display === 'space' || display === 'objects') return 'memory';
  if (display.includes('mutex_')) return 'mutex';
  if (display.includes('block_')) return 'block';
  if (display.includes('goroutines')) return 'goroutines';
  return undefined;
}
