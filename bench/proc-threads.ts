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
 * per second. Threads are named by their order after the main thread; "with node" are those started in
 * the process's first clock tick (node's V8 platform workers, its delayed-task and signal threads),
 * "later" those started afterwards (libuv's pool, started on first use).
 */
export function threadRows(pid: number, before: Map<number, ThreadSample>, after: Map<number, ThreadSample>, wallS: number): string[] {
  const main = after.get(pid);
  const rows: string[] = [];
  const sum = { cpu: 0, vol: 0, invol: 0 };
  for (const [tid, a] of [...after].sort((x, y) => x[0] - y[0])) {
    const b = before.get(tid);
    const cpu = a.cpuS - (b?.cpuS ?? 0);
    const vol = a.voluntary - (b?.voluntary ?? 0);
    const invol = a.involuntary - (b?.involuntary ?? 0);
    sum.cpu += cpu;
    sum.vol += vol;
    sum.invol += invol;
    const kind = tid === pid ? 'main' : main && a.startTicks <= main.startTicks + 1 ? 'with node' : 'later';
    rows.push(`| ${tid - pid} (${kind}${b ? '' : ', new in window'}) | ${a.comm} | ${((cpu / wallS) * 100).toFixed(3)} % | ${(vol / wallS).toFixed(2)} | ${(invol / wallS).toFixed(2)} |`);
  }
  rows.push(`| all | | ${((sum.cpu / wallS) * 100).toFixed(3)} % | ${(sum.vol / wallS).toFixed(2)} | ${(sum.invol / wallS).toFixed(2)} |`);
  return rows;
}
