import { readFileSync, readlinkSync } from 'node:fs';
import { readStartTime } from '../symbolize/proc-maps.js';
import { allCgroupPaths, cgroupPathFromFile, containerFromCgroup, systemdUnitFromCgroup, type ContainerRef } from './cgroup.js';

/** What /proc tells about one process, read once per process (and again only if its pid is reused). */
export interface ProcessInfo {
  readonly pid: number;
  /** Process name from /proc/PID/comm (the main thread's), '' when gone. */
  readonly comm: string;
  /** Executable path as the process's own mount namespace names it, '' when unreadable. */
  readonly executable: string;
  readonly cgroup: string;
  readonly container: ContainerRef | undefined;
  readonly systemdUnit: string;
  /** Start time (clock ticks since boot), to tell a reused pid apart; '' when gone. */
  readonly startTime: string;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export function readProcessInfo(pid: number, procRoot = '/proc'): ProcessInfo {
  const dir = `${procRoot}/${pid}`;
  let executable = '';
  try {
    executable = readlinkSync(`${dir}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    // kernel threads have no exe; exited processes have nothing
  }
  const cgroupText = readOr(`${dir}/cgroup`, '');
  const cgroup = cgroupPathFromFile(cgroupText);
  let container = containerFromCgroup(cgroup);
  for (const p of container ? [] : allCgroupPaths(cgroupText)) {
    container = containerFromCgroup(p);
    if (container) break;
  }
  return {
    pid,
    comm: readOr(`${dir}/comm`, '').trim(),
    executable,
    cgroup,
    container,
    systemdUnit: systemdUnitFromCgroup(cgroup),
    startTime: readStartTime(pid, procRoot) ?? '',
  };
}
