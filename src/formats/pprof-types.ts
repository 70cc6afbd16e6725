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

/** Period type/unit Pyroscope would show when the writer left them blank (Ruby, older .NET agents). */
function defaultPeriod(name: string, sampleType: string, sampleUnit: string): [string, string] {
  switch (name) {
    case 'process_cpu':
      return ['cpu', 'nanoseconds'];
    case 'memory':
      return ['space', 'bytes'];
    case 'wall':
      return ['wall', 'nanoseconds'];
    default:
      return [sampleType, sampleUnit];
  }
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
    const [dType, dUnit] = defaultPeriod(typeName, sampleType, sampleUnit);
    const periodType = part(t.periodType) || dType;
    const periodUnit = part(t.periodUnit) || dUnit;
    const out = { name: typeName, sampleType, sampleUnit, periodType, periodUnit };
    for (const v of Object.values(out)) if (!TYPE_PART.test(v)) return { ...out, name: 'unknown' };
    return out;
  });
}
