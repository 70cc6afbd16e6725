import { openSync, readSync } from 'node:fs';
import { loadGlibc } from './glibc.js';

/** This process's CPU time so far (user + sys, all threads), in seconds: the agent's stage accounting. */
export function processCpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * The calling thread's own CPU time so far, in seconds, for work that runs wholly on the main thread
 * (the interval's stages, the unwinder's poll): processCpuSeconds() around it also counts what V8's
 * platform threads (concurrent GC and compilation, a third of the agent's CPU on the issue's load) ran
 * meanwhile.
 *
 * Read with clock_gettime(CLOCK_THREAD_CPUTIME_ID) (glibc.ts): the kernel brings the running thread's
 * figure up to date before answering. /proc/thread-self/schedstat, read before (stop 30), answers with
 * the figure as of the thread's last scheduler update (a tick, 4 ms at HZ=250, or a switch): a stage
 * shorter than a tick read as a fraction of its CPU (a 1 ms spin as 0.28 ms, a 0.5 ms one as 0.17 ms
 * on the shared test host), and the rest was credited when the thread next slept — between stages, so it
 * showed as "the main thread outside the stages". That file stays the fallback where libc cannot be bound
 * (then the process's clock where it is missing too).
 */
export function threadCpuSeconds(): number {
  if (clockOk === undefined) clockOk = (process.arch === 'x64' || process.arch === 'arm64') && loadGlibc() !== null;
  if (clockOk) {
    if (loadGlibc()!.clockGettime(CLOCK_THREAD_CPUTIME_ID, timespec) === 0) {
      // struct timespec on 64-bit Linux: tv_sec (8 bytes), tv_nsec (8 bytes, < 1e9).
      return timespec.readUInt32LE(0) + timespec.readUInt32LE(4) * 0x1_0000_0000 + timespec.readUInt32LE(8) / 1e9;
    }
    clockOk = false; // from now on the fallback (one reading mixes both clocks)
  }
  return schedstatCpuSeconds();
}

/** Linux's clock id for the calling thread's CPU time. */
const CLOCK_THREAD_CPUTIME_ID = 3;
const timespec = Buffer.alloc(16);
/** Whether the thread clock is read through glibc: not where it cannot be bound, nor off 64-bit (timespec's layout). */
let clockOk: boolean | undefined;

/**
 * The main thread's CPU so far from /proc/thread-self/schedstat (nanoseconds on a CPU as of the thread's
 * last scheduler update, see threadCpuSeconds): the file is opened once, on the main thread (the
 * descriptor keeps naming that thread), and read from offset 0 each time, one pread. The process's clock
 * where the file is missing (a kernel without schedstats).
 */
function schedstatCpuSeconds(): number {
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
