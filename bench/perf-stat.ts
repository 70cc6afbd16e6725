import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * `perf stat` on one running process over a window, counted per thread: instructions retired in user
 * and kernel mode (what the agent's work costs, nearly the same whatever else the host runs — a CPU-%
 * pair on a shared host moves with its load), and beside them the software counts that never need a
 * hardware PMU: syscalls entered, page faults and task-clock (CPU time at ns resolution). On a VM
 * without a virtual PMU the instruction counters read "not supported"; the other counts still come.
 */
export const PERF_STAT_EVENTS = ['instructions:u', 'instructions:k', 'raw_syscalls:sys_enter', 'page-faults', 'task-clock'] as const;
export type PerfStatEvent = (typeof PERF_STAT_EVENTS)[number];

/** One event's count over the window: the main thread's and the other threads' (undefined: not supported here). */
export interface ThreadSplitCount {
  readonly main: number;
  readonly others: number;
}

/** Starts counting `pid`'s threads (those alive now) for `seconds`; the counts land in `outFile`. */
export function startPerfStat(pid: number, seconds: number, outFile: string): ChildProcess {
  return spawn('perf', ['stat', '-x,', '--per-thread', '-e', PERF_STAT_EVENTS.join(','), '-p', String(pid), '-o', outFile, '--', 'sleep', String(seconds)], { stdio: 'ignore' });
}

/** Resolves once perf has written its counts (it exits after its `sleep`). */
export function perfStatDone(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Sums perf's CSV (`comm-tid,value,unit,event,...`, one line per thread and event) into the main
 * thread (tid = pid) and the rest. An event no thread could count (`<not supported>`) is left out;
 * `<not counted>` (a thread that never ran) counts 0.
 */
export function parsePerfStat(text: string, pid: number): Map<PerfStatEvent, ThreadSplitCount> {
  const out = new Map<PerfStatEvent, { main: number; others: number }>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [thread, value, , event] = line.split(',');
    if (!PERF_STAT_EVENTS.includes(event as PerfStatEvent) || value === '<not supported>') continue;
    const tid = Number(thread!.slice(thread!.lastIndexOf('-') + 1));
    const n = value === '<not counted>' ? 0 : Number(value);
    const sum = out.get(event as PerfStatEvent) ?? { main: 0, others: 0 };
    if (tid === pid) sum.main += n;
    else sum.others += n;
    out.set(event as PerfStatEvent, sum);
  }
  return out;
}

/** Reads the counts perf wrote, or an empty map when it wrote nothing (perf missing, process gone). */
export function readPerfStat(outFile: string, pid: number): Map<PerfStatEvent, ThreadSplitCount> {
  try {
    return parsePerfStat(readFileSync(outFile, 'utf8'), pid);
  } catch {
    return new Map();
  }
}
