import { openSync, readSync } from 'node:fs';

/** This process's CPU time so far (user + sys, all threads), in seconds: the agent's stage accounting. */
export function processCpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * The main thread's own CPU time so far, in seconds (the first field of /proc/thread-self/schedstat:
 * nanoseconds on a CPU), for work that runs wholly on the main thread, such as the unwinder's poll:
 * processCpuSeconds() around it also counts what V8's platform threads (concurrent GC and compilation,
 * a third of the agent's CPU on the issue's load) ran meanwhile. The file is opened once, on the main
 * thread (the descriptor keeps naming that thread), and read from offset 0 each time: one pread. Falls
 * back to processCpuSeconds() where the file is missing (a kernel without schedstats).
 */
export function threadCpuSeconds(): number {
  if (schedstat === undefined) {
    try {
      schedstat = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      schedstat = null;
    }
  }
  if (schedstat === null) return processCpuSeconds();
  try {
    const n = readSync(schedstat, scratch, 0, scratch.length, 0);
    let ns = 0;
    for (let i = 0; i < n; i++) {
      const c = scratch[i]!;
      if (c < 0x30 || c > 0x39) break;
      ns = ns * 10 + (c - 0x30);
    }
    return ns / 1e9;
  } catch {
    schedstat = null; // from now on the process's clock (one poll's figure mixes both)
    return processCpuSeconds();
  }
}

/**
 * Stage accounting on the main thread's own clock: each call of the returned function ends a stage,
 * records its CPU under `name`, and starts the next one where it ended. V8's platform threads (concurrent
 * GC, compilation) run beside the stages; on the process's clock their work would land in whichever stage
 * happened to be running, on this one it stays out of every stage (the thread CPU tells it apart).
 */
export function stageClock(record: (name: string, cpuSeconds: number) => void): (name: string) => void {
  let cpu = threadCpuSeconds();
  return (name) => {
    const now = threadCpuSeconds();
    record(name, now - cpu);
    cpu = now;
  };
}

/** The open schedstat file of the thread that first asked (the main thread); null when it did not open. */
let schedstat: number | null | undefined;
const scratch = Buffer.alloc(64);
