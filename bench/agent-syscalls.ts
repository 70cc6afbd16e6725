/**
 * Counts what an agent's `strace -f` trace shows it doing (bench/agent-overhead.ts with
 * KILN_BENCH_STRACE=<dir> writes one per agent over its window): syscalls by kind, the files they name
 * with pids folded (`/proc/N/maps`), reads and closes attributed to the file their descriptor was opened
 * on, and `bpf` by command — in total and per new process and per interval, the load-independent figures
 * of what a new process costs the agent.
 *
 *   npx tsx bench/agent-syscalls.ts <trace> <new processes in the window> <seconds> [interval seconds=10] [top=40]
 */
import { readFileSync } from 'node:fs';

const [file, newArg, secondsArg, intervalArg, topArg] = process.argv.slice(2);
if (!file || !newArg || !secondsArg) throw new Error('usage: agent-syscalls.ts <trace> <new processes> <seconds> [interval s] [top]');
const newProcesses = Number(newArg);
const intervals = Number(secondsArg) / Number(intervalArg ?? 10);
const top = Number(topArg ?? 40);

/** A path with pids folded, so every process's file counts as one kind; other numbers kept. */
const fold = (p: string) => p.replace(/^\/proc\/\d+(?=\/|$)/, '/proc/N').replace(/^\/tmp\/perf-\d+\.map$/, '/tmp/perf-N.map');

/** Pids whose /proc directory the agent touched at all, and those whose maps it opened. */
const pidsTouched = new Set<string>();
const pidsMapsRead = new Set<string>();
const bySyscall = new Map<string, number>();
const byKind = new Map<string, number>();
const fdPath = new Map<number, string>();
const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
// A call split by another thread's: `… <unfinished ...>` then `<... name resumed> …`; counted once, at its start.
const pending = new Map<string, string>();

for (const raw of readFileSync(file, 'latin1').split('\n')) {
  const m = /^(\d+)\s+(.*)$/.exec(raw);
  if (!m) continue;
  const [, tid, rest] = m;
  let line = rest!;
  if (line.startsWith('<...')) {
    const start = pending.get(tid!);
    if (start === undefined) continue;
    pending.delete(tid!);
    line = start + line.replace(/^<\.\.\. \w+ resumed>/, '');
  } else if (line.endsWith('<unfinished ...>')) {
    pending.set(tid!, line.replace(/ <unfinished \.\.\.>$/, ''));
    add(bySyscall, /^(\w+)\(/.exec(line)?.[1] ?? '?');
    continue;
  } else {
    const name = /^(\w+)\(/.exec(line)?.[1];
    if (!name) continue;
    add(bySyscall, name);
  }
  const name = /^(\w+)\(/.exec(line)?.[1];
  if (!name) continue;
  const ret = /=\s+(-?\d+)(?:\s|$)/.exec(line.slice(line.lastIndexOf(')')))?.[1];
  const failed = ret !== undefined && Number(ret) < 0;
  const quoted = /"([^"]*)"/.exec(line)?.[1];
  const procPid = quoted === undefined ? undefined : /^\/proc\/(\d+)(?:\/|$)/.exec(quoted)?.[1];
  if (procPid !== undefined) {
    pidsTouched.add(procPid);
    if (name === 'openat' && quoted!.endsWith('/maps') && !failed) pidsMapsRead.add(procPid);
  }
  if (name === 'openat' && quoted !== undefined) {
    const p = fold(quoted);
    add(byKind, `openat ${p}${failed ? ' (failed)' : ''}`);
    if (!failed && ret !== undefined) fdPath.set(Number(ret), p);
  } else if (name === 'read' || name === 'pread64' || name === 'close' || name === 'fstat' || name === 'lseek' || name === 'mmap') {
    const fd = Number(/^\w+\((-?\d+)/.exec(line)?.[1] ?? NaN);
    const p = fdPath.get(fd);
    if (p !== undefined) add(byKind, `${name} ${p}`);
    if (name === 'close') fdPath.delete(fd);
  } else if (name === 'bpf') {
    add(byKind, `bpf ${/^bpf\((\w+)/.exec(line)?.[1] ?? '?'}${failed ? ` (${/= -1 (\w+)/.exec(line)?.[1] ?? 'failed'})` : ''}`);
  } else if (quoted !== undefined && /^(readlink|readlinkat|statx|newfstatat|access|faccessat2?|stat|lstat)$/.test(name)) {
    add(byKind, `${name} ${fold(quoted)}${failed ? ' (failed)' : ''}`);
  }
}

const rows = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => `| \`${k}\` | ${n} | ${(n / newProcesses).toFixed(2)} | ${(n / intervals).toFixed(1)} |`);
const total = [...bySyscall.values()].reduce((a, b) => a + b, 0);
console.log(
  `${file}: ${total} syscalls, ${newProcesses} new processes, ${intervals} intervals; ` +
    `${pidsTouched.size} distinct pids' /proc entries touched, maps opened for ${pidsMapsRead.size}\n`,
);
console.log('| syscall | count | per new process | per interval |\n|---|---|---|---|');
console.log(rows(bySyscall).join('\n'));
console.log('\n| syscall and file (pids folded) | count | per new process | per interval |\n|---|---|---|---|');
console.log(rows(byKind).join('\n'));
