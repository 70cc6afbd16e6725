import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Per-thread CPU and wake-ups of one process, from /proc/PID/task/*: where a node process's CPU goes
 * between its main thread, V8's platform threads (GC, compilation) and libuv's pool, and how often each
 * thread woke (a voluntary context switch is a thread going to sleep; each one is a later wake-up).
 */
export interface ThreadSample {
  readonly comm: string;
  /** user + sys seconds since the thread started. */
  readonly cpuS: number;
  readonly voluntary: number;
  readonly involuntary: number;
  /** Clock ticks after boot when the thread started: threads started with the process share it. */
  readonly startTicks: number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export function sampleThreads(pid: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(Number(t), {
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(') ')),
        cpuS: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
        voluntary: num('voluntary_ctxt_switches'),
        involuntary: num('nonvoluntary_ctxt_switches'),
        startTicks: Number(fields[19]),
      });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * Markdown rows, one per thread alive at the end: CPU as % of one core over the window and wake-ups
 * per second. Threads are named by their start order: node 20 starts its V8 platform threads first
 * (#1 its delayed-task scheduler, #2–#5 the 4 workers that run GC and compilation tasks), then its
 * signal-watchdog thread and libuv's pool of 4 (on first use). A summary row per group follows.
 */
export function threadRows(pid: number, before: Map<number, ThreadSample>, after: Map<number, ThreadSample>, wallS: number): string[] {
  const rows: string[] = [];
  for (const t of threadDeltas(pid, before, after)) {
    rows.push(`| ${t.tid === pid ? 'main' : `#${t.order}`}${t.new ? ' (new in window)' : ''} | ${t.comm} | ${((t.cpu / wallS) * 100).toFixed(3)} % | ${(t.vol / wallS).toFixed(2)} | ${(t.invol / wallS).toFixed(2)} |`);
  }
  for (const [group, g] of threadGroups(pid, before, after)) rows.push(`| **${group}** | | ${((g.cpu / wallS) * 100).toFixed(3)} % | ${(g.vol / wallS).toFixed(2)} | ${(g.invol / wallS).toFixed(2)} |`);
  return rows;
}

export type ThreadGroup = 'main thread' | 'V8 platform (#1–#5)' | 'others (#6 on)';

/** CPU seconds and context switches over the window summed per group of threads (see threadRows). */
export function threadGroups(pid: number, before: Map<number, ThreadSample>, after: Map<number, ThreadSample>): Map<ThreadGroup, { cpu: number; vol: number; invol: number }> {
  const groups = new Map<ThreadGroup, { cpu: number; vol: number; invol: number }>();
  for (const t of threadDeltas(pid, before, after)) {
    const group: ThreadGroup = t.tid === pid ? 'main thread' : t.order <= 5 ? 'V8 platform (#1–#5)' : 'others (#6 on)';
    const g = groups.get(group) ?? { cpu: 0, vol: 0, invol: 0 };
    g.cpu += t.cpu;
    g.vol += t.vol;
    g.invol += t.invol;
    groups.set(group, g);
  }
  return groups;
}

/** Each thread alive at the end, by start order, with what it ran over the window. */
function threadDeltas(pid: number, before: Map<number, ThreadSample>, after: Map<number, ThreadSample>) {
  const order = [...after].sort((x, y) => x[1].startTicks - y[1].startTicks || x[0] - y[0]);
  return order.map(([tid, a], i) => {
    const b = before.get(tid);
    return {
      tid,
      order: i,
      comm: a.comm,
      new: b === undefined,
      cpu: a.cpuS - (b?.cpuS ?? 0),
      vol: a.voluntary - (b?.voluntary ?? 0),
      invol: a.involuntary - (b?.involuntary ?? 0),
    };
  });
}
