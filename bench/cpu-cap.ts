/**
 * A CPU cap for one bench process, so a 2-core machine can stand in for several smaller ones: the
 * process gets its own cgroup whose CFS quota is `cores` of CPU per 100 ms period. cgroup v2 (`cpu.max`)
 * or v1 (`cpu/…/cpu.cfs_quota_us`); needs root. Threads the process starts later stay in its cgroup.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CpuCap {
  /** CFS periods in which the cgroup hit its quota so far: > 0 means the cap, not the machine, bound it. */
  throttledPeriods(): number;
  remove(): void;
}

const PERIOD_US = 100_000;

export function capCpu(name: string, pid: number, cores: number): CpuCap {
  if (!(cores > 0)) throw new Error(`--replica-cpu must be a positive number of cores, got ${cores}`);
  return cgroupFor(name, pid, cores);
}

/**
 * The same high weight without a quota: the parts a bench stands in for that would run on machines of
 * their own (the database, the load generator) go first on a busy machine too, so they do not become
 * the bottleneck the capped processes wait on.
 */
export function prioritize(name: string, pid: number): CpuCap {
  return cgroupFor(name, pid, undefined);
}

function cgroupFor(name: string, pid: number, cores: number | undefined): CpuCap {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const root = v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/cpu';
  if (!existsSync(root)) throw new Error(`no CPU cgroup at ${root}: run without --replica-cpu`);
  const dir = path.join(root, name);
  try {
    mkdirSync(dir, { recursive: true });
    const quota = cores === undefined ? undefined : Math.round(cores * PERIOD_US);
    // A high weight as well as the quota: on a busy machine the process still gets its `cores`, so
    // the cap is what binds it, not the other work (which is what throttledPeriods then shows).
    if (v2) {
      writeFileSync(path.join(dir, 'cpu.max'), `${quota ?? 'max'} ${PERIOD_US}`);
      writeFileSync(path.join(dir, 'cpu.weight'), '10000');
    } else {
      writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota ?? -1));
      writeFileSync(path.join(dir, 'cpu.shares'), String(1024 * 64));
    }
    writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    throw new Error(`could not move pid ${pid} into ${dir}${cores === undefined ? '' : ` capped at ${cores} cores`} (run as root): ${(err as Error).message}`);
  }
  return {
    throttledPeriods: () => Number(/^nr_throttled (\d+)/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0),
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process for a moment after exit; the kernel frees it when empty
      }
    },
  };
}
