import { writeFileSync } from 'node:fs';

// node:inspector is imported only when a profile is asked for: loading it costs the running agent resident
// memory (a built-in's code and heap) that an agent never profiling itself would pay for nothing.
async function newSession(): Promise<import('node:inspector/promises').Session> {
  const { Session } = await import('node:inspector/promises');
  return new Session();
}

/**
 * Starts a V8 CPU profile of this process; the returned function stops it and writes `path` (.cpuprofile).
 * `intervalUs`: time between samples (V8's default 1000 µs gives few samples of an agent that runs ≈ 1 % of a core).
 */
export async function startCpuProfile(path: string, intervalUs?: number): Promise<() => Promise<void>> {
  const session = await newSession();
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
  const session = await newSession();
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
