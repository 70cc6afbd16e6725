/**
 * The syscalls one new process costs the agent's user space from first sight to its first interval
 * (the same steps as bench/agent-new-process.ts: the unwinder's poll that dates and loads it, then the
 * interval's labels() and the symbolizer's observe()), counted under strace for one checkout. Markers
 * (failed `access` of /kiln-load-syscalls-begin and -end) fence the measured first sight; a warm-up set
 * of the same binaries runs before it, so per-binary work is already done, as in steady state.
 *
 *   strace -f -o <trace> npx tsx bench/agent-load-syscalls.ts [checkout=this one] [processes=30]
 *   npx tsx bench/agent-load-syscalls.ts --count <trace> [processes=30]
 *
 * The second form prints the fenced syscalls of the main thread by kind and by file (pids folded), per
 * process: a count the host's load does not move.
 */
import { spawn } from 'node:child_process';
import { accessSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unwinderBpfStandIn } from './unwinder-bpf-stand-in.js';

const BEGIN = '/kiln-load-syscalls-begin';
const END = '/kiln-load-syscalls-end';

if (process.argv[2] === '--count') count(process.argv[3]!, Number(process.argv[4] ?? 30));
else await measure(process.argv[2] ?? fileURLToPath(new URL('../', import.meta.url)), Number(process.argv[3] ?? 30));

async function measure(root: string, n: number): Promise<void> {
  const load = (f: string) => import(path.join(path.resolve(root), 'src/agent', f));
  const tablesMod = await load('unwind/process-tables.ts');
  const storeMod = await load('unwind/table-store.ts');
  const labelerMod = await load('metadata/labeler.ts');
  const symMod = await load('symbolize/symbolizer.ts');
  const pyMod = await load('python/process.ts');
  const mapsMod = await load('symbolize/proc-maps.ts');
  const events: number[] = [];
  const { lib, mmap } = unwinderBpfStandIn(events);
  const kinds: [string, string[]][] = [
    ['/usr/bin/python3', ['-c', 'import time; time.sleep(900)']],
    ['sh', ['-c', 'sleep 900']],
    ['sleep', ['900']],
  ];
  const spawnSet = (k: number) => Array.from({ length: k }, (_, i) => spawn(kinds[i % kinds.length]![0], kinds[i % kinds.length]![1], { stdio: 'ignore', detached: true }));
  const warm = spawnSet(kinds.length * 2);
  const measured = spawnSet(n);
  await new Promise((r) => setTimeout(r, 2000));
  const labeler = new labelerMod.MetadataLabeler({});
  const symbolizer = new symMod.ProcSymbolizer({});
  const store = new storeMod.TableStore(lib, 4, (64 << 20) / 8, mmap, 4096);
  const python = pyMod.PythonProcesses.length >= 2 ? new pyMod.PythonProcesses(lib, 5) : new pyMod.PythonProcesses();
  const tables = new tablesMod.ProcessTables(lib, { procs: 1, pidEvents: 2, tableRequests: 3 }, store, {
    extensions: [python],
    wanted: (pid: number) => labeler.labels(pid, '').length > 0,
  });
  const firstSight = (list: number[]) => {
    events.push(...list);
    mapsMod.oneStatReadEach(() => tables.poll(1e9));
    // As the agent's interval: the unwinder vouches for the start times of the processes it loaded.
    mapsMod.oneStatReadEach(
      () => {
        for (const pid of list) {
          labeler.labels(pid, '');
          symbolizer.observe(pid);
        }
      },
      (pid: number) => tables.liveStartTime?.(pid),
    );
  };
  firstSight(warm.map((k) => k.pid!));
  const pids = measured.map((k) => k.pid!);
  const mark = (p: string) => {
    try {
      accessSync(p);
    } catch {
      // the marker is the failed call
    }
  };
  mark(BEGIN);
  firstSight(pids);
  mark(END);
  // Each in its own group: the shell's sleep goes with it.
  for (const k of [...warm, ...measured]) process.kill(-k.pid!, 'SIGKILL');
  console.log(`loads: ${tables.stats().loads} (${n} measured + ${warm.length} warm-up); main pid ${process.pid}`);
}

function count(file: string, n: number): void {
  const lines = readFileSync(file, 'latin1').split('\n');
  const begin = lines.findIndex((l) => l.includes(BEGIN));
  const end = lines.findIndex((l) => l.includes(END));
  if (begin < 0 || end < 0) throw new Error('markers not found');
  const tid = /^(\d+)/.exec(lines[begin]!)![1];
  const byKind = new Map<string, number>();
  const byFile = new Map<string, number>();
  const fdPath = new Map<string, string>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const fold = (p: string) => p.replace(/^\/proc\/\d+(?=\/|$)/, '/proc/N');
  let total = 0;
  for (const l of lines.slice(begin + 1, end)) {
    const m = /^(\d+)\s+(\w+)\((.*)$/.exec(l);
    if (!m || m[1] !== tid) continue;
    const [, , name, rest] = m;
    total++;
    add(byKind, name!);
    const byFd = name === 'read' || name === 'pread64' || name === 'close' || name === 'fstat' || name === 'ioctl';
    const quoted = byFd ? undefined : /"([^"]*)"/.exec(rest!)?.[1];
    const ret = /=\s+(-?\d+)/.exec(rest!.slice(rest!.lastIndexOf(')')))?.[1];
    let file = quoted === undefined ? undefined : fold(quoted);
    if (byFd) file = fdPath.get(/^(\d+)/.exec(rest!)?.[1] ?? '');
    if (name === 'openat' && quoted !== undefined && ret !== undefined && Number(ret) >= 0) fdPath.set(ret, fold(quoted));
    add(byFile, `${name} ${file ?? ''}${ret !== undefined && Number(ret) < 0 ? ' (failed)' : ''}`);
  }
  console.log(`main thread ${tid}: ${total} syscalls for ${n} processes = ${(total / n).toFixed(2)} per process\n`);
  console.log('| syscall and file | per process |\n|---|---|');
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${(v / n).toFixed(2)} |`);
}
