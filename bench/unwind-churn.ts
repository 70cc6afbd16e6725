/**
 * What the unwinder's user space (src/agent/unwind) costs under process churn, isolated from the rest of
 * the agent: a child process runs only the BPF program and `startUnwinding` — its poll timer, the
 * processes it loads, the tables it points them at — and reports its own CPU (user + sys) over two
 * windows: an idle one (no process started: the poll timer alone) and a churn one, while this process
 * starts 5 short-lived processes a second:
 *   - `sh` busy for a few ms, then exec'ing `sleep 0.4` (lives past the unwinder's minimum age: loaded,
 *     then exec'd: dropped and loaded again),
 *   - `python3 -c` one-liners (≈ 0.1 s: most are gone before they are old enough to load),
 *   - every 2 s, the C chain built -O2 -fomit-frame-pointer, busy ≈ 0.5 s (loaded, walked with
 *     tables, shares its libc table).
 * Only this bench's own children are wanted (a process's parent is this one); the host's other processes
 * cost what a process dropped by relabel rules costs. A third part times the table store alone, in
 * this process: acquiring a table already loaded (shared) against compiling and uploading one, and
 * the page-index rows written per µs.
 *
 *   sudo npx tsx bench/unwind-churn.ts [windowSeconds=30] [hz=99]
 *
 * Prints Markdown for docs/BENCHMARKS.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCpuProfile } from '../src/agent/cpu-profile.js';
import { BpfProfiler } from '../src/agent/loader.js';
import { ElfFile } from '../src/agent/symbolize/elf.js';
import { startUnwinding } from '../src/agent/unwind/index.js';
import { unwindTableOf } from '../src/agent/unwind/rows.js';
import { TableStore } from '../src/agent/unwind/table-store.js';

const seconds = Number(process.argv[2] ?? 30);
const hz = Number(process.argv[3] ?? 99);
const role = process.argv[4];
if (process.getuid?.() !== 0) throw new Error('run as root: loading the BPF object needs it');

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;

/** The measured side: BPF program + unwinder only; prints one JSON line per window. */
async function child(parent: number): Promise<void> {
  const bpf = BpfProfiler.start({ frequencyHz: hz, stackMapSize: 1024, countsMapSize: 1024, unwind: true });
  let pollCpuS = 0;
  let polls = 0;
  const ppidOf = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3)[1]);
    } catch {
      return -1;
    }
  };
  const unwinding = startUnwinding(bpf, {
    wanted: (pid) => pid !== process.pid && ppidOf(pid) === parent,
    onPoll: (s) => {
      pollCpuS += s;
      polls++;
    },
  });
  const window = async (name: string) => {
    const s0 = unwinding.stats();
    const c0 = process.cpuUsage();
    const p0 = { pollCpuS, polls };
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c = process.cpuUsage(c0);
    const s = unwinding.stats();
    process.stdout.write(
      JSON.stringify({
        name,
        cpuMs: cpuMs(c),
        pollCpuMs: (pollCpuS - p0.pollCpuS) * 1000,
        polls: polls - p0.polls,
        loads: s.loads - s0.loads,
        tableLoads: s.tableLoads - s0.tableLoads,
        binaries: s.binaries,
        processes: s.processes,
      }) + '\n',
    );
  };
  // Own libc preloaded, the host's running processes seen, the JIT warm: the first seconds are not idle.
  await new Promise((r) => setTimeout(r, 10_000));
  // KILN_BENCH_CPU_PROFILE=file: a V8 CPU profile of both windows (where the unwinder's time goes).
  const profileTo = process.env.KILN_BENCH_CPU_PROFILE;
  const stopProfile = profileTo ? await startCpuProfile(profileTo) : undefined;
  await window('idle');
  // The parent starts its churn on seeing the idle window's line; give it a second to start.
  await new Promise((r) => setTimeout(r, 2000));
  await window('churn');
  await stopProfile?.();
  unwinding.stop();
  bpf.close();
  process.exit(0);
}

interface WindowResult {
  readonly name: string;
  readonly cpuMs: number;
  readonly pollCpuMs: number;
  readonly polls: number;
  readonly loads: number;
  readonly tableLoads: number;
  readonly binaries: number;
  readonly processes: number;
}

async function parent(): Promise<void> {
  const ROOT = fileURLToPath(new URL('../', import.meta.url));
  const tmp = mkdtempSync(path.join(tmpdir(), 'kiln-unwind-churn-'));
  const chain = path.join(tmp, 'chain');
  execFileSync('clang', ['-O2', '-fomit-frame-pointer', path.join(ROOT, 'test/agent/fixtures/chain.c'), '-o', chain]);
  const kid = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(seconds), String(hz), 'child', String(process.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const results: WindowResult[] = [];
  let churn: NodeJS.Timeout | undefined;
  let started = 0;
  const load0 = loadavg()[0]!;
  const quiet = { stdio: 'ignore' } as const;
  const done = new Promise<void>((resolve, reject) => {
    let buf = '';
    kid.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const r = JSON.parse(line) as WindowResult;
        results.push(r);
        if (r.name === 'idle') {
          churn = setInterval(() => {
            const i = started++;
            if (i % 10 === 4) spawn(chain, ['1'], quiet);
            else if (i % 2 === 0) spawn('sh', ['-c', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exec sleep 0.4'], quiet);
            else spawn('/usr/bin/python3', ['-c', 'sum(i * i for i in range(100000))'], quiet);
          }, 200);
        }
      }
    });
    kid.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the measured child exited with ${code}`))));
  });
  await done;
  clearInterval(churn);
  const load1 = loadavg()[0]!;

  const [idle, busy] = [results.find((r) => r.name === 'idle')!, results.find((r) => r.name === 'churn')!];
  const perS = (ms: number) => (ms / seconds / 10).toFixed(3); // ms per s → % of one core
  console.log(`bench/unwind-churn.ts: ${seconds} s windows, ${hz} Hz, load ${load0.toFixed(1)} → ${load1.toFixed(1)}, ${started} processes started in the churn window, ${new Date().toISOString()}\n`);
  console.log('| window | unwinder process CPU | of which in polls | polls | CPU per poll | processes loaded | tables pointed at on request |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of [idle, busy]) {
    console.log(`| ${r.name} | ${perS(r.cpuMs)} % (${r.cpuMs.toFixed(0)} ms) | ${perS(r.pollCpuMs)} % | ${r.polls} | ${((r.pollCpuMs / Math.max(1, r.polls)) * 1000).toFixed(0)} µs | ${r.loads} | ${r.tableLoads} |`);
  }

  // The table store alone: a shared acquire, a compile + upload, rows written per µs.
  const bpf = BpfProfiler.start({ frequencyHz: 1, stackMapSize: 64, countsMapSize: 64 });
  const fd = bpf.mapFd('unwind_rows');
  const store = new TableStore(bpf.lib, fd, bpf.unwindRows, (o, l) => bpf.lib.mmapMap(fd, l, o), bpf.lib.pageSize());
  const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))![1]!;
  const compiled: number[] = [];
  const uploaded: number[] = [];
  const shared: number[] = [];
  let rows = 0;
  for (let r = 0; r < 7; r++) {
    let c = process.cpuUsage();
    store.acquire(`chain#${r}`, () => unwindTableOf(ElfFile.open(chain)));
    store.acquire(`libc#${r}`, () => unwindTableOf(ElfFile.open(libc)));
    compiled.push(cpuMs(process.cpuUsage(c)) * 1000);
    const t = unwindTableOf(ElfFile.open(libc))!;
    rows = t.count;
    c = process.cpuUsage();
    store.acquire(`libc-upload#${r}`, () => t);
    uploaded.push(cpuMs(process.cpuUsage(c)) * 1000);
    c = process.cpuUsage();
    for (let i = 0; i < 1000; i++) store.acquire(`libc#${r}`, () => undefined);
    shared.push(cpuMs(process.cpuUsage(c)));
  }
  bpf.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\n| table store (7 rounds, median) | CPU |\n|---|---|`);
  console.log(`| compile + upload chain and libc (${rows} rows) | ${med(compiled).toFixed(0)} µs |`);
  console.log(`| upload only, libc's compiled table (header + page index + rows) | ${med(uploaded).toFixed(0)} µs (${(rows / med(uploaded)).toFixed(0)} rows per µs) |`);
  console.log(`| acquire of a table already loaded (shared) | ${med(shared).toFixed(2)} µs |`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}

if (role === 'child') await child(Number(process.argv[5]));
else await parent();
