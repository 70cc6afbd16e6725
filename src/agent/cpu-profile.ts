import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * Starts a V8 CPU profile of this process; the returned function stops it and writes `path` (.cpuprofile).
 * `intervalUs`: time between samples (V8's default 1000 µs gives few samples of an agent that runs ≈ 1 % of a core).
 */
export async function startCpuProfile(path: string, intervalUs?: number): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  if (intervalUs !== undefined) await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * Starts V8's sampling heap profiler over every allocation, garbage included (objects the young and old
 * generation collections freed stay in the profile): what the agent allocates, by call stack, which is
 * what its garbage collection pays for. The returned function stops it and writes `path` (.heapprofile).
 */
export async function startAllocationProfile(path: string, samplingIntervalBytes = 16 * 1024): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: samplingIntervalBytes,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}
