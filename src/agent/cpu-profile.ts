import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** Starts a V8 CPU profile of this process; the returned function stops it and writes `path` (.cpuprofile). */
export async function startCpuProfile(path: string): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}
