/**
 * Agent overhead, side by side with `perf record` and `bpftrace` on the same node-like load, in one run:
 * each profiler's own CPU (user+sys from /proc/PID/stat) and RSS over a steady-state window, the
 * kernel-side run time per sample of each BPF program (kernel.bpf_stats_enabled), and where the agent's
 * own CPU went (its kiln_agent_interval_cpu_seconds_total{stage}).
 *
 * The load (issue 11): 50 processes — 20 busy (4 each: C with frame pointers, C -O2 without, Node,
 * Debian's python3, Go) and 30 idle (sleep, python3, node) — and 5 short-lived processes started per
 * second (sh and python3 one-liners). Needs clang, python3, node, Go (Debian: golang-go), perf, bpftrace.
 *
 *   sudo npx tsx bench/agent-overhead.ts [seconds=60] [hz=19]
 *
 * The agent runs as users run it: `node bin/kiln.js agent` on the tsc output in dist/ (no tsx loader), in
 * its own process, pushing to a sink HTTP server in this process (the server's own cost is not the agent's).
 * KILN_AGENT_NODE_FLAGS="--max-semi-space-size=1" runs the agent node with other V8 flags to compare.
 *
 * Beside each kiln agent's CPU %, `perf stat --per-thread -p <agent>` over the same window (bench/perf-stat.ts)
 * counts what the host's load barely moves, for the main thread and the other threads apart: instructions
 * retired in user and kernel mode (hardware counters: a VM without a virtual PMU prints "not supported"),
 * syscalls entered, page faults, and task-clock (CPU at ns resolution). Two agents in one run (a compare
 * run: KILN_AGENT_COMPARE_ROOT / KILN_AGENT_COMPARE_FLAGS) then compare by instructions even on a busy host,
 * where their CPU-% pairs spread wider than most gains. Mind that in a compare run each agent also samples and
 * symbolizes the other (a busy node process): symbolize_label read 0.46-0.96 % in compare runs and 0.125 % for a
 * lone agent at stop 29 (one run each, shared host) — compare a stage between runs of one agent too.
 * Alternate lone runs compare two builds without that: run this bench in each checkout in turn (each measures
 * its own agent, built in its own dist/), swapping the order between pairs, each under the bench lock.
 * Prints a Markdown section for docs/BENCHMARKS.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleProc } from './proc-usage.js';
import { bpfProgStats, programIdsOf } from './bpf-programs.js';
import { sampleThreads, threadGroups, threadRows } from './proc-threads.js';
import { PERF_STAT_EVENTS, perfStatDone, readPerfStat, startPerfStat, type PerfStatEvent } from './perf-stat.js';

const seconds = Number(process.argv[2] ?? 60);
const hz = Number(process.argv[3] ?? 19);
// KILN_BENCH_WARMUP_S: a later window (e.g. 300), for the long-running agent once V8 has compiled its hot
// code: TurboFan compiles per 20 s fall from ~170 to 10-20 only ~100 s after start (stop 20, helper A).
const WARMUP_S = Number(process.env.KILN_BENCH_WARMUP_S ?? 15);
// Steady state: on a loaded host the agent's first intervals (every process and binary seen for the first
// time, kallsyms, the first unwind tables) run well past a fixed warm-up — 20 s and more of its work fell
// into the window at load 20. The window starts once the agent has completed this many intervals (at most
// STEADY_MAX_S after the warm-up); KILN_BENCH_STEADY_INTERVALS=0 measures from the fixed warm-up as before.
const STEADY_INTERVALS = Number(process.env.KILN_BENCH_STEADY_INTERVALS ?? 3);
const STEADY_MAX_S = 120;
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const tmp = mkdtempSync(path.join(tmpdir(), 'kiln-bench-agent-'));

if (process.getuid?.() !== 0) throw new Error('run as root: the agent, perf -a and bpftrace all need it');

/** The load's compilers and the two anchors, each with the Debian package that brings it: missing ones are named up front. */
const NEEDED: Record<string, string> = { clang: 'clang', python3: 'python3', go: 'golang-go', perf: 'linux-perf', bpftrace: 'bpftrace' };
const missing = Object.entries(NEEDED).filter(([cmd]) => !process.env.PATH?.split(':').some((dir) => existsSync(path.join(dir, cmd))));
if (missing.length > 0) {
  throw new Error(`missing ${missing.map(([cmd]) => cmd).join(', ')}: apt-get install ${missing.map(([, pkg]) => pkg).join(' ')}`);
}

/** A busy Go program: main → burn → step, the Go runtime's frame pointers all the way. */
const GO_BURN = `package main

import (
	"os"
	"strconv"
	"time"
)

var sink uint64

//go:noinline
func step(n uint64) uint64 { return n*6364136223846793005 + 1 }

//go:noinline
func burn() {
	for i := 0; i < 100000; i++ {
		sink = step(sink)
	}
}

func main() {
	s, _ := strconv.Atoi(os.Args[1])
	end := time.Now().Add(time.Duration(s) * time.Second)
	for time.Now().Before(end) {
		burn()
	}
}
`;

// The agent as users run it: compiled by tsc into dist/ (the compile step of `npm run build`), started
// through bin/kiln.js. tsc exits non-zero for type errors anywhere in the tree but still emits.
try {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
} catch {
  console.error('tsc reported errors (output still emitted); measuring what was built');
}
// tsc does not copy the committed BPF object into dist/: the compiled loader must find it in src/.
const bpfObject = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('./dist/agent/loader.js'); process.stdout.write(m.DEFAULT_OBJECT)"], { cwd: ROOT }).toString();
if (!existsSync(bpfObject)) throw new Error(`the compiled agent would load a missing BPF object: ${bpfObject}`);
// KILN_AGENT_ENTRY=dist/cli/main.js measures the full CLI entry instead (it loads every verb's modules).
const entry = process.env.KILN_AGENT_ENTRY ?? 'bin/kiln.js';

// The node-like load: 20 busy processes across five kinds of code, 30 idle ones, 5 short-lived per second.
const fixture = (f: string) => path.join(ROOT, 'test/agent/fixtures', f);
const burn = path.join(tmp, 'burn');
execFileSync('clang', ['-O0', '-fno-omit-frame-pointer', fixture('burn.c'), '-o', burn]);
const chain = path.join(tmp, 'chain');
execFileSync('clang', ['-O2', '-fomit-frame-pointer', fixture('chain.c'), '-o', chain]);
const goBurn = path.join(tmp, 'goburn');
writeFileSync(path.join(tmp, 'goburn.go'), GO_BURN);
execFileSync('go', ['build', '-o', goBurn, path.join(tmp, 'goburn.go')], { env: { ...process.env, GOCACHE: path.join(tmp, 'gocache'), HOME: tmp } });
const total = seconds + WARMUP_S + (STEADY_INTERVALS > 0 ? STEADY_MAX_S : 0) + 10;
const quiet = { stdio: 'ignore' } as const;
const workload: ChildProcess[] = [];
for (let i = 0; i < 4; i++) {
  workload.push(
    spawn(burn, [String(total)], quiet),
    spawn(chain, [String(total)], quiet),
    spawn(process.execPath, [fixture('burn.js'), String(total)], quiet),
    spawn('/usr/bin/python3', [fixture('fg.py'), String(total)], quiet),
    spawn(goBurn, [String(total)], quiet),
  );
}
for (let i = 0; i < 10; i++) {
  workload.push(
    spawn('sleep', [String(total)], quiet),
    spawn('/usr/bin/python3', ['-c', `import time; time.sleep(${total})`], quiet),
    spawn(process.execPath, ['-e', `setTimeout(() => {}, ${total * 1000})`], quiet),
  );
}
let started = 0;
const churn = setInterval(() => {
  started++;
  if (started % 2) spawn('sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done'], quiet);
  else spawn('/usr/bin/python3', ['-c', 'sum(i * i for i in range(100000))'], quiet);
}, 200);

// A sink for the agent's requests.
let requests = 0;
let bytes = 0;
const sink = http.createServer((req, res) => {
  requests++;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);

// Node flags for the agent process (e.g. KILN_AGENT_NODE_FLAGS=--max-semi-space-size=1) to compare settings;
// KILN_AGENT_COMPARE_FLAGS runs a second agent with those flags in the same run (same host load); several
// sets separated by '|' run one agent each (e.g. "--no-opt|--v8-pool-size=1").
const nodeFlags = (process.env.KILN_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const compareFlagSets = (process.env.KILN_AGENT_COMPARE_FLAGS ?? '').split('|').map((set) => set.split(' ').filter(Boolean)).filter((set) => set.length > 0);
// KILN_AGENT_COMPARE_ROOT=<another checkout, built with `npx tsc -p tsconfig.json`> runs that checkout's
// agent as the second one (e.g. the code before a change), side by side under the same host load.
const compareRoot = process.env.KILN_AGENT_COMPARE_ROOT;

// KILN_AGENT_ARGS="--off-cpu" passes agent flags (the measured defaults otherwise: unwind tables on, off-CPU off).
const agentArgs = (process.env.KILN_AGENT_ARGS ?? '').split(' ').filter(Boolean);
// KILN_BENCH_AGENT_STDOUT=<prefix>: each kiln agent's stdout goes to <prefix>-<n> (0 = this checkout's, then
// the compared ones in order; e.g. with --trace-gc among the flags, V8's line per GC: kind, reason, pause,
// heap sizes), ignored otherwise.
const agentStdout = process.env.KILN_BENCH_AGENT_STDOUT;
let agentsSpawned = 0;
function agent(name: string, flags: string[], metricsPort: string, root = ROOT) {
  const stdout = agentStdout ? openSync(`${agentStdout}-${agentsSpawned}`, 'w') : 'ignore';
  agentsSpawned++;
  return {
    name,
    cmd: `node ${flags.length ? `${flags.join(' ')} ` : ''}${entry} agent --frequency ${hz}${agentArgs.length ? ` ${agentArgs.join(' ')}` : ''}`,
    child: spawn(process.execPath, [...flags, path.join(root, entry), 'agent', '--server', sinkUrl, '--frequency', String(hz), '--metrics-port', metricsPort, '--metrics-host', '127.0.0.1', ...agentArgs], {
      cwd: root,
      stdio: ['ignore', stdout, 'pipe'] as const,
    }),
  };
}

const profilers: { name: string; cmd: string; child: ChildProcess }[] = [
  agent('kiln agent', nodeFlags, '0'),
  ...compareFlagSets.map((flags) => agent(`kiln agent, ${flags.join(' ')}`, flags, '-1')),
  ...(compareRoot ? [agent('kiln agent, the other checkout', nodeFlags, '-1', compareRoot)] : []),
  {
    name: 'perf record',
    cmd: `perf record -F ${hz} -a -g`,
    child: spawn('perf', ['record', '-F', String(hz), '-a', '-g', '-q', '-o', path.join(tmp, 'perf.data')], { stdio: 'ignore' }),
  },
  {
    name: 'bpftrace',
    cmd: `bpftrace -e 'profile:hz:${hz} { @[kstack, ustack, comm] = count(); }'`,
    child: spawn('bpftrace', ['-e', `profile:hz:${hz} { @[kstack, ustack, comm] = count(); }`], { stdio: 'ignore' }),
  },
];
const agentStartedAt = performance.now();

// The agent's own /metrics (any free port) says where its memory is: V8 heap, external buffers, caches.
let metricsPort = 0;
profilers[0]!.child.stderr!.on('data', (c: Buffer) => {
  process.stderr.write(c);
  metricsPort ||= Number(/metrics on :(\d+)/.exec(c.toString())?.[1] ?? 0);
});
for (const p of profilers.slice(1)) p.child.stderr?.resume();
async function agentGauges(): Promise<Map<string, number>> {
  // A busy agent may reset a kept-alive connection (its server's keep-alive timeout passed): ask again.
  const get = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const text = metricsPort ? await get().catch(get) : '';
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One perf stat count as "main / others" per second (instructions in millions, task-clock in ms). */
function perfStatCell(counts: ReturnType<typeof readPerfStat>, event: PerfStatEvent, seconds: number): string {
  const c = counts.get(event);
  if (!c) return 'not supported here';
  const scale = event.startsWith('instructions') ? 1e-6 : 1;
  const unit = event.startsWith('instructions') ? ' M' : event === 'task-clock' ? ' ms' : '';
  const per = (n: number) => ((n * scale) / seconds).toFixed(event === 'task-clock' || scale !== 1 ? 2 : 1);
  return `${per(c.main)} / ${per(c.others)}${unit}`;
}
try {
  await sleep(WARMUP_S * 1000);
  const intervalsDone = async () => (await agentGauges()).get('kiln_agent_interval_duration_seconds_count') ?? 0;
  const steadyBy = performance.now() + STEADY_MAX_S * 1000;
  while (STEADY_INTERVALS > 0 && (await intervalsDone()) < STEADY_INTERVALS && performance.now() < steadyBy) await sleep(1000);
  const windowAfterS = (performance.now() - agentStartedAt) / 1000;
  const windowAfterIntervals = await intervalsDone();
  const load0 = loadavg()[0]!;
  const g0 = await agentGauges();
  const bpf0 = bpfProgStats();
  const t0 = performance.now();
  const startedBefore = started;
  const before = profilers.map((p) => sampleProc(p.child.pid!));
  // Each kiln agent's threads: main thread vs V8's platform threads vs libuv's pool, CPU and wake-ups.
  const agents = profilers.filter((p) => p.name.startsWith('kiln agent'));
  const threadsBefore = agents.map((p) => sampleThreads(p.child.pid!));
  // KILN_BENCH_STRACE=<dir>: every syscall of each kiln agent over the window (`strace -f`), one file per
  // agent (0 = this checkout's, then the compared ones), for bench/agent-syscalls.ts to count per new process.
  // Tracing slows the agent many times: a run with it counts syscalls, its CPU figures mean nothing.
  const straceDir = process.env.KILN_BENCH_STRACE;
  const tracers = straceDir
    ? agents.map((p, i) => spawn('strace', ['-f', '-qq', '-s', '256', '-o', path.join(straceDir, `agent-${i}.trace`), '-p', String(p.child.pid!)], { stdio: 'ignore' }))
    : [];
  const perfStats = agents.map((p, i) => {
    const outFile = path.join(tmp, `perf-stat-${i}.csv`);
    return { pid: p.child.pid!, outFile, child: startPerfStat(p.child.pid!, seconds, outFile) };
  });
  let peakRss = profilers.map(() => 0);
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    peakRss = profilers.map((p, i) => Math.max(peakRss[i]!, sampleProc(p.child.pid!).rssKiB));
  }
  for (const t of tracers) t.kill('SIGINT');
  const startedInWindow = started - startedBefore;
  const after = profilers.map((p) => sampleProc(p.child.pid!));
  const threadsAfter = agents.map((p) => sampleThreads(p.child.pid!));
  const wallS = (performance.now() - t0) / 1000;
  const bpf1 = bpfProgStats();
  for (const ps of perfStats) await perfStatDone(ps.child);
  const counted = perfStats.map((ps) => readPerfStat(ps.outFile, ps.pid));

  const rows = profilers.map((p, i) => {
    const cpuPct = ((after[i]!.cpuS - before[i]!.cpuS) / wallS) * 100;
    return `| ${p.name} | \`${p.cmd}\` | ${cpuPct.toFixed(2)} % | ${(after[i]!.rssKiB / 1024).toFixed(1)} MiB | ${(peakRss[i]! / 1024).toFixed(1)} MiB |`;
  });
  // Each profiler's own sampling program, by the ids its process holds.
  const byName = new Map<string, { runs: number; nsPerRun: number }>();
  for (const p of profilers) {
    const ids = programIdsOf(p.child.pid!);
    for (const b of bpf1.filter((x) => ids.has(x.id))) {
      const a = bpf0.find((x) => x.id === b.id);
      const runs = b.runCnt - (a?.runCnt ?? 0);
      const ns = b.runTimeNs - (a?.runTimeNs ?? 0);
      byName.set(`${p.name}: ${b.name}`, { runs, nsPerRun: runs > 0 ? ns / runs : 0 });
    }
  }

  const g = await agentGauges();
  // Where the agent's CPU went in the window, by stage (the main thread's own CPU in each), and the rest:
  // the main thread outside the stages (timers, wake-ups, metrics, GC pauses between stages) and the
  // other threads (V8's concurrent GC and compiler; libuv's pool).
  const stageDelta = (st: string) => (g.get(`kiln_agent_interval_cpu_seconds_total{stage="${st}"}`) ?? 0) - (g0.get(`kiln_agent_interval_cpu_seconds_total{stage="${st}"}`) ?? 0);
  const agentCpu = after[0]!.cpuS - before[0]!.cpuS;
  const stages = ['read', 'symbolize_label', 'encode', 'send', 'unwind_tables'].map((st) => [st, stageDelta(st)] as const);
  const rest = agentCpu - stages.reduce((n, [, v]) => n + v, 0);
  const groups = threadGroups(profilers[0]!.child.pid!, threadsBefore[0]!, threadsAfter[0]!);
  const threadCpu = (group: Parameters<typeof groups.get>[0]) => groups.get(group)?.cpu ?? 0;
  const mainRest = threadCpu('main thread') - stages.reduce((n, [, v]) => n + v, 0);
  // The main thread's GC pauses by kind (V8's gc performance entries, wall time): inside the stages or
  // the rest, wherever an allocation triggered them; V8's helper threads' GC work is not in them.
  const gcKinds = ['minor', 'major', 'incremental', 'weakcb'];
  const gcDelta = (k: string) => (g.get(`kiln_agent_nodejs_gc_duration_seconds_sum{kind="${k}"}`) ?? 0) - (g0.get(`kiln_agent_nodejs_gc_duration_seconds_sum{kind="${k}"}`) ?? 0);
  const gcCount = (k: string) => (g.get(`kiln_agent_nodejs_gc_duration_seconds_count{kind="${k}"}`) ?? 0) - (g0.get(`kiln_agent_nodejs_gc_duration_seconds_count{kind="${k}"}`) ?? 0);
  const gcTotal = gcKinds.reduce((n, k) => n + gcDelta(k), 0);
  const pctCore = (cpuS: number) => `${((cpuS / wallS) * 100).toFixed(3)} %`;
  const walk = (r: string) => (g.get(`kiln_agent_unwind_stacks_total{result="${r}"}`) ?? 0) - (g0.get(`kiln_agent_unwind_stacks_total{result="${r}"}`) ?? 0);
  const results = ['complete', 'truncated', 'read_error', 'bad_pc', 'unsupported', 'no_tables'];
  const walks = results.reduce((n, r) => n + walk(r), 0);
  const unwindPolls = (g.get('kiln_agent_unwind_tables{stat="polls"}') ?? 0) - (g0.get('kiln_agent_unwind_tables{stat="polls"}') ?? 0);
  const tableStat = (st: string) => g.get(`kiln_agent_unwind_tables{stat="${st}"}`) ?? 0;
  const mib = (name: string) => `${((g.get(name) ?? 0) / 1048576).toFixed(1)} MiB`;
  const stat = (name: string) => g.get(`kiln_agent_symbolizer_stat{stat="${name}"}`) ?? 0;
  const statDelta = (name: string) => stat(name) - (g0.get(`kiln_agent_symbolizer_stat{stat="${name}"}`) ?? 0);
  const a = after[0]!;
  const memory =
    `Agent memory at the end: RSS ${(a.rssKiB / 1024).toFixed(1)} MiB = anonymous ${(a.anonKiB / 1024).toFixed(1)} MiB + file-backed ${(a.fileKiB / 1024).toFixed(1)} MiB ` +
    `(node binary and libraries, shared with other node processes); V8 heap ${mib('kiln_agent_nodejs_heap_size_used_bytes')} used of ${mib('kiln_agent_nodejs_heap_size_total_bytes')}, ` +
    `external ${mib('kiln_agent_nodejs_external_memory_bytes')}; symbolizer: ${stat('cachedSymbolTables')} tables / ${stat('cachedSymbols')} symbols, ` +
    `${stat('kernelSymbols')} kernel symbols, ${stat('cachedProcesses')} processes, ${stat('cachedResults')} cached names, ${stat('tableLoads')} table loads since start; ` +
    `kept dictionary ${stat('dictionaryLocations')} locations / ${stat('dictionaryStacks')} stacks (${stat('dictionaryResets')} resets), ${stat('memoFrames')} remembered frames; ` +
    `frames in the window ${(g.get('kiln_agent_symbolize_frames') ?? 0) - (g0.get('kiln_agent_symbolize_frames') ?? 0)}, of which answered from the memo ${statDelta('memoHits')}; ` +
    `V8 functions in the window: ${statDelta('v8Reads')} fresh reads (${statDelta('v8NotFunction')} not a function), ${statDelta('v8Revalidations')} re-checks (${statDelta('v8Changed')} changed), ${stat('v8Functions')} known at the end.`;
  const out = [
    `Run: ${new Date().toISOString()}, ${cpus().length} CPUs, 1-min load average ${load0.toFixed(1)} at the window's start and ${loadavg()[0]!.toFixed(1)} at its end, ${hz} Hz, ${seconds} s window starting ${windowAfterS.toFixed(0)} s after the agent started, after its ${windowAfterIntervals} completed intervals (warm-up ≥ ${WARMUP_S} s${STEADY_INTERVALS > 0 ? ` and ≥ ${STEADY_INTERVALS} intervals` : ''}); ${started} short-lived processes started (${startedInWindow} in the window).`,
    '',
    '| profiler | command | CPU (user+sys, % of one core) | RSS at end | peak RSS in window |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '| BPF program | runs in window | run time per sample |',
    '|---|---|---|',
    ...[...byName].filter(([, p]) => p.runs > 0).map(([name, p]) => `| ${name} | ${p.runs} | ${(p.nsPerRun / 1000).toFixed(2)} µs |`),
    '',
    `Agent requests delivered to the sink: ${requests} (${(bytes / 1024).toFixed(0)} KiB). BPF object loaded by the compiled agent: ${path.relative(ROOT, bpfObject)}.`,
    '',
    `Agent CPU by stage in the window (% of one core): ${stages.map(([st, v]) => `${st} ${pctCore(v)}`).join(', ')}, rest ${pctCore(Math.max(0, rest))}: the main thread outside the stages (timers, wake-ups, metrics, GC pauses) ${pctCore(mainRest)}, ` +
      `V8's platform threads ${pctCore(threadCpu('V8 platform (#1–#5)'))}, other threads ${pctCore(threadCpu('others (#6 on)'))} (from /proc at clock-tick resolution; the stages from the main thread's own clock). ` +
      `GC pauses (main thread, wall, inside stages and rest): ${pctCore(gcTotal)} — ${gcKinds.map((k) => `${k} ${pctCore(gcDelta(k))} (${gcCount(k)})`).join(', ')}.`,
    // First-time work that lands in the window (binaries other suites on the host start) moves the stages.
    `First-time work in the window: ${statDelta('tableLoads')} symbol tables and ${statDelta('kallsymsLoads')} kallsyms read, ${statDelta('mapsReads')} maps read by the symbolizer, ` +
      `${(g.get('kiln_agent_unwind_tables{stat="loads"}') ?? 0) - (g0.get('kiln_agent_unwind_tables{stat="loads"}') ?? 0)} processes loaded for unwinding, ` +
      `${unwindPolls} unwinder polls (${unwindPolls > 0 ? ((stageDelta('unwind_tables') / unwindPolls) * 1e6).toFixed(0) : '-'} µs CPU each).`,
    `User-stack walks in the window: ${walks}, ${results.map((r) => `${r} ${walks ? ((100 * walk(r)) / walks).toFixed(1) : '0'} %`).join(', ')}. ` +
      `Unwind tables at the end: ${tableStat('binaries')} binaries, ${tableStat('rowsUsed')} rows (${((tableStat('rowsUsed') * 8) / 1048576).toFixed(1)} MiB of kernel memory), ${tableStat('processes')} processes loaded (${tableStat('loads')} loads, ${tableStat('tableLoads')} table requests since start).`,
    '',
    `Counted by \`perf stat --per-thread -p <agent> -- sleep ${seconds}\` from the window's start (main thread / the other threads; per second of the window):`,
    '',
    `| agent | ${PERF_STAT_EVENTS.join(' | ')} |`,
    `|---|${PERF_STAT_EVENTS.map(() => '---|').join('')}`,
    ...agents.map((p, i) => `| ${p.name} | ${PERF_STAT_EVENTS.map((e) => perfStatCell(counted[i]!, e, seconds)).join(' | ')} |`),
    '',
    memory,
    ...agents.flatMap((p, i) => [
      '',
      `Threads of ${p.name} in the window (by start order; wake-ups = voluntary context switches per second):`,
      '',
      '| thread | comm | CPU (% of one core) | wake-ups / s | involuntary switches / s |',
      '|---|---|---|---|---|',
      ...threadRows(p.child.pid!, threadsBefore[i]!, threadsAfter[i]!, wallS),
    ]),
  ];
  console.log(out.join('\n'));
} finally {
  clearInterval(churn);
  for (const p of profilers) p.child.kill('SIGINT');
  for (const w of workload) w.kill('SIGKILL');
  await sleep(2000);
  for (const p of profilers) p.child.kill('SIGKILL');
  execFileSync('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${statsBefore}`]);
  sink.close();
  rmSync(tmp, { recursive: true, force: true });
}
