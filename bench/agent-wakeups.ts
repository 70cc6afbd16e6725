/**
 * Why a running process's threads wake: every `sched_wakeup` of its threads over a window, counted by
 * thread and by cause, read off the kernel stack of the wake-up (bpftrace) — a timer expiring (libuv's
 * epoll timeout, a nanosleep), a socket or pipe becoming readable, an eventfd (libuv's async handle:
 * a threadpool job done), a futex (another thread of the process, e.g. V8 posting a task), a signal.
 * These are counts the host's load barely moves, unlike CPU. Run as root beside a running agent:
 *
 *   sudo npx tsx bench/agent-wakeups.ts <agent pid> [seconds=60]
 *
 * Threads are named as bench/proc-threads.ts names them (main, #1–#5 V8's platform threads, #6 on
 * node's watchdog and libuv's pool); threads started during the window are not followed.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const pid = Number(process.argv[2]);
const seconds = Number(process.argv[3] ?? 60);
if (!Number.isInteger(pid) || pid <= 0) throw new Error('usage: agent-wakeups.ts <pid> [seconds]');

/** The process's threads by start order (start time in ticks, then tid), the main thread first. */
function threadsInOrder(): { tid: number; name: string }[] {
  const tids = readdirSync(`/proc/${pid}/task`).map(Number);
  const started = (tid: number) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19]);
  };
  const others = tids.filter((t) => t !== pid).sort((a, b) => started(a) - started(b) || a - b);
  return [{ tid: pid, name: 'main' }, ...others.map((tid, i) => ({ tid, name: `#${i + 1}` }))];
}

/** What woke a thread, from the wake-up's kernel stack (innermost first) and the waker's command. */
export function causeOf(stack: readonly string[], wakerComm: string): string {
  const has = (fn: string) => stack.some((f) => f.startsWith(fn));
  if (has('hrtimer_wakeup')) return 'timer';
  if (has('eventfd_write') || has('eventfd_signal') || has('__x64_sys_eventfd')) return `eventfd (from ${wakerComm})`;
  if (has('ep_poll_callback')) {
    if (stack.some((f) => /^(tcp_|sock_def_readable|sk_|inet_|__tcp)/.test(f))) return 'socket';
    if (stack.some((f) => /^(pipe_|anon_pipe)/.test(f))) return 'pipe';
    return `epoll, other (${stack.find((f) => !/^(try_to_wake_up|ep_|__wake_up|autoremove|default_wake)/.test(f)) ?? '?'})`;
  }
  if (has('futex_wake') || has('futex_wake_mark')) return `futex (from ${wakerComm})`;
  if (has('signal_wake_up') || has('complete_signal')) return 'signal';
  return `other (${stack.find((f) => !/^(try_to_wake_up|wake_up_|__wake_up|ttwu)/.test(f)) ?? '?'})`;
}

const threads = threadsInOrder();
const nameOf = new Map(threads.map((t) => [t.tid, t.name]));
const tidOf = new Map(threads.map((t) => [t.name, t.tid]));
const predicate = threads.map((t) => `args->pid == ${t.tid}`).join(' || ');
const script = `tracepoint:sched:sched_wakeup /${predicate}/ { @[args->pid, tid, comm, kstack(16)] = count(); } interval:s:${seconds} { exit(); }`;
/** voluntary_ctxt_switches of each thread: a thread going to sleep, i.e. one later wake-up (a cross-check). */
const voluntary = () => new Map(threads.map(({ tid }) => {
  try {
    return [tid, Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0)] as const;
  } catch {
    return [tid, undefined] as const; // the thread (or the process) ended
  }
}));
const switchesBefore = voluntary();
// bpftrace compiles and attaches in the first second or so: the window's switches are counted from its first line.
const out = execFileSync('bpftrace', ['-e', script], { maxBuffer: 64 << 20 }).toString();
const switchesAfter = voluntary();

// Entries: @[TID, WAKER TID, WAKER COMM, \n    frame+off\n    ...\n]: N
const counts = new Map<string, Map<string, number>>();
for (const m of out.matchAll(/@\[(\d+), (\d+), ([^,]*), \n([\s\S]*?)\n\]: (\d+)/g)) {
  const stack = m[4]!.split('\n').map((l) => l.trim().replace(/\+\d+$/, '')).filter(Boolean);
  const thread = nameOf.get(Number(m[1])) ?? m[1]!;
  // The waker: one of the process's threads by name, else its command (an interrupt's is whatever ran).
  const waker = nameOf.get(Number(m[2])) ?? m[3]!;
  const cause = causeOf(stack, waker);
  const byCause = counts.get(thread) ?? new Map<string, number>();
  byCause.set(cause, (byCause.get(cause) ?? 0) + Number(m[5]));
  counts.set(thread, byCause);
}

console.log(`Wake-ups of pid ${pid}'s threads over ${seconds} s (${new Date().toISOString()}, 1-min load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}), per second:\n`);
console.log('| thread | cause | wake-ups/s |\n|---|---|---|');
for (const { name } of threads) {
  const byCause = counts.get(name);
  if (!byCause) continue;
  let total = 0;
  for (const [cause, n] of [...byCause].sort((a, b) => b[1] - a[1])) {
    total += n;
    console.log(`| ${name} | ${cause} | ${(n / seconds).toFixed(2)} |`);
  }
  const [v0, v1] = [switchesBefore.get(tidOf.get(name)!), switchesAfter.get(tidOf.get(name)!)];
  const switches = v0 === undefined || v1 === undefined ? 'n/a: the thread ended' : ((v1 - v0) / seconds).toFixed(2);
  console.log(`| **${name}** | all (voluntary switches: ${switches}) | **${(total / seconds).toFixed(2)}** |`);
}
