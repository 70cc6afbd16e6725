import { describe, expect, it } from 'vitest';
import { nameFromSuffix, pprofProfileTypes } from '../../src/formats/pprof-types.js';
import { profileTypeId } from '../../src/model/index.js';

/** `type/unit,…` with a period `type/unit` → the ids Kiln gives them. */
function ids(sampleTypes: string, period: string, name?: string): string[] {
  const [periodType, periodUnit] = period.split('/') as [string, string];
  const types = sampleTypes.split(',').map((t) => {
    const [sampleType, sampleUnit] = t.split('/') as [string, string];
    return { sampleType, sampleUnit, periodType, periodUnit };
  });
  return pprofProfileTypes(types, name).map(profileTypeId);
}

describe('pprof sample types get the ids Pyroscope users know', () => {
  it('Go CPU', () => {
    expect(ids('samples/count,cpu/nanoseconds', 'cpu/nanoseconds')).toEqual([
      'process_cpu:samples:count:cpu:nanoseconds',
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    ]);
  });
  it('Go heap', () => {
    expect(ids('alloc_objects/count,alloc_space/bytes,inuse_objects/count,inuse_space/bytes', 'space/bytes')).toEqual([
      'memory:alloc_objects:count:space:bytes',
      'memory:alloc_space:bytes:space:bytes',
      'memory:inuse_objects:count:space:bytes',
      'memory:inuse_space:bytes:space:bytes',
    ]);
  });
  it('Go goroutines', () => {
    expect(ids('goroutine/count', 'goroutine/count')).toEqual(['goroutines:goroutine:count:goroutine:count']);
  });
  it('Go mutex by default, block when the name says so', () => {
    expect(ids('contentions/count,delay/nanoseconds', 'contentions/count')).toEqual([
      'mutex:contentions:count:contentions:count',
      'mutex:delay:nanoseconds:contentions:count',
    ]);
    expect(ids('contentions/count,delay/nanoseconds', 'contentions/count', 'app.block_count{env=prod}')).toEqual([
      'block:contentions:count:contentions:count',
      'block:delay:nanoseconds:contentions:count',
    ]);
  });
  it('Node wall and Java-style allocation types', () => {
    expect(ids('samples/count,wall/microseconds', 'wall/microseconds')).toEqual([
      'wall:samples:count:wall:microseconds',
      'wall:wall:microseconds:wall:microseconds',
    ]);
    expect(ids('alloc_in_new_tlab_objects/count,alloc_in_new_tlab_bytes/bytes', 'space/bytes')).toEqual([
      'memory:alloc_in_new_tlab_objects:count:space:bytes',
      'memory:alloc_in_new_tlab_bytes:bytes:space:bytes',
    ]);
  });
  it('.NET: one name per kind, dashes become underscores, the name suffix does not flatten them', () => {
    expect(ids('cpu/nanoseconds,exception/count,alloc-samples/count,lock-count/count', 'cpu/nanoseconds', 'app.cpu')).toEqual([
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      'exceptions:exception:count:cpu:nanoseconds',
      'memory:alloc_samples:count:cpu:nanoseconds',
      'mutex:lock_count:count:cpu:nanoseconds',
    ]);
  });
  it('blank period types stay blank, as in Pyroscope\'s ids (Ruby, older .NET agents)', () => {
    expect(ids('samples/count', '/milliseconds')).toEqual(['process_cpu:samples:count::milliseconds']);
    expect(ids('cpu/nanoseconds', '/nanoseconds')).toEqual(['process_cpu:cpu:nanoseconds::nanoseconds']);
    expect(ids('cpu/nanoseconds', '/')).toEqual(['process_cpu:cpu:nanoseconds::']);
  });
  it('name suffixes', () => {
    expect(nameFromSuffix('checkout.cpu')).toBe('process_cpu');
    expect(nameFromSuffix('checkout.alloc_space{region=eu}')).toBe('memory');
    expect(nameFromSuffix('checkout')).toBeUndefined();
    expect(nameFromSuffix('my.app.unknownthing')).toBeUndefined();
  });
});
