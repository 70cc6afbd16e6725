import { readExe, readProcText, readStat, type ProcStat } from '../symbolize/proc-maps.js';
import { allCgroupPaths, cgroupPathFromFile, containerFromCgroup, systemdUnitFromCgroup, type ContainerRef } from './cgroup.js';

/** What /proc tells about one process, read once per process (and again only if its pid is reused). */
export interface ProcessInfo {
  readonly pid: number;
  /** Process name (the main thread's, as /proc/PID/comm and stat give it), '' when gone. */
  readonly comm: string;
  /** Executable path as the process's own mount namespace names it, '' when unreadable. */
  readonly executable: string;
  readonly cgroup: string;
  readonly container: ContainerRef | undefined;
  readonly systemdUnit: string;
  /** Start time (clock ticks since boot), to tell a reused pid apart; '' when gone. */
  readonly startTime: string;
}

/**
 * Three reads: stat (start time and name), the exe link and cgroup. `stat`: already read by the caller
 * (the labeler reads it to tell a reused pid apart), undefined when the process is gone — then nothing
 * else is read: every read would fail, and most pids of a churning host are gone by the time their
 * samples are labelled.
 */
export function readProcessInfo(pid: number, procRoot = '/proc', stat: ProcStat | undefined = readStat(pid, procRoot)): ProcessInfo {
  if (stat === undefined) return { pid, comm: '', executable: '', cgroup: '/', container: undefined, systemdUnit: '', startTime: '' };
  const dir = `${procRoot}/${pid}`;
  const executable = readExe(pid, procRoot);
  const cgroupText = readProcText(`${dir}/cgroup`, true) ?? '';
  const cgroup = cgroupPathFromFile(cgroupText);
  let container = containerFromCgroup(cgroup);
  for (const p of container ? [] : allCgroupPaths(cgroupText)) {
    container = containerFromCgroup(p);
    if (container) break;
  }
  return { pid, comm: stat.comm, executable, cgroup, container, systemdUnit: systemdUnitFromCgroup(cgroup), startTime: stat.startTime };
}
