/**
 * Agent overhead, side by side with `perf record` and `bpftrace` on the same busy workload, in one run:
 * each profiler's own CPU (user+sys from /proc/PID/stat) and RSS over a steady-state window, plus the
 * kernel-side run time per sample of each BPF program (kernel.bpf_stats_enabled).
 *
 *   sudo npx tsx bench/agent-overhead.ts [seconds=60] [hz=19]
 *
 * The agent runs as users run it: `node bin/kiln.js agent` on the tsc output in dist/ (no tsx loader), in
 * its own process, pushing to a sink HTTP server in this process (the server's own cost is not the agent's).
 * KILN_AGENT_NODE_FLAGS="--max-semi-space-size=1" runs the agent node with other V8 flags to compare.
 * Prints a Markdown section for docs/BENCHMARKS.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const seconds = Number(process.argv[2] ?? 60);
const hz = Number(process.argv[3] ?? 19);
const WARMUP_S = 15;
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const tmp = mkdtempSync(path.join(tmpdir(), 'kiln-bench-agent-'));

if (process.getuid?.() !== 0) throw new Error('run as root: the agent, perf -a and bpftrace all need it');

interface ProcSample {
  readonly cpuS: number;
  readonly rssKiB: number;
  readonly hwmKiB: number;
  /** Resident anonymous memory (heap, buffers) and file pages (the node binary and libraries, shared). */
  readonly anonKiB: number;
  readonly fileKiB: number;
}

function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / CLK_TCK, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') };
}

function bpfProgStats(): { name: string; runTimeNs: number; runCnt: number }[] {
  const json = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { name?: string; type: string; run_time_ns?: number; run_cnt?: number }[];
  return json.filter((p) => p.type === 'perf_event').map((p) => ({ name: p.name ?? '?', runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }));
}

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
const kilnBin = path.join(ROOT, entry);

// The busy workload: a native program and a JIT one, both burning CPU the whole run.
const burn = path.join(tmp, 'burn');
execFileSync('clang', ['-O0', '-fno-omit-frame-pointer', path.join(ROOT, 'test/agent/fixtures/burn.c'), '-o', burn]);
const total = seconds + WARMUP_S + 10;
const workload: ChildProcess[] = [
  spawn(burn, [String(total)], { stdio: 'ignore' }),
  spawn(process.execPath, ['--perf-basic-prof', path.join(ROOT, 'test/agent/fixtures/burn.js'), String(total)], { stdio: 'ignore' }),
];

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
// KILN_AGENT_COMPARE_FLAGS runs a second agent with those flags in the same run (same host load).
const nodeFlags = (process.env.KILN_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const compareFlags = process.env.KILN_AGENT_COMPARE_FLAGS?.split(' ').filter(Boolean);

function agent(name: string, flags: string[], metricsPort: string) {
  return {
    name,
    cmd: `node ${flags.length ? `${flags.join(' ')} ` : ''}${entry} agent --frequency ${hz}`,
    child: spawn(process.execPath, [...flags, kilnBin, 'agent', '--server', sinkUrl, '--frequency', String(hz), '--metrics-port', metricsPort, '--metrics-host', '127.0.0.1'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'] as const,
    }),
  };
}

const profilers: { name: string; cmd: string; child: ChildProcess }[] = [
  agent('kiln agent', nodeFlags, '0'),
  ...(compareFlags ? [agent(`kiln agent, ${compareFlags.join(' ')}`, compareFlags, '-1')] : []),
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

// The agent's own /metrics (any free port) says where its memory is: V8 heap, external buffers, caches.
let metricsPort = 0;
profilers[0]!.child.stderr!.on('data', (c: Buffer) => {
  process.stderr.write(c);
  metricsPort ||= Number(/metrics on :(\d+)/.exec(c.toString())?.[1] ?? 0);
});
for (const p of profilers.slice(1)) p.child.stderr?.resume();
async function agentGauges(): Promise<Map<string, number>> {
  const text = metricsPort ? await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text() : '';
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await sleep(WARMUP_S * 1000);
  const bpf0 = bpfProgStats();
  const t0 = performance.now();
  const before = profilers.map((p) => sampleProc(p.child.pid!));
  let peakRss = profilers.map(() => 0);
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    peakRss = profilers.map((p, i) => Math.max(peakRss[i]!, sampleProc(p.child.pid!).rssKiB));
  }
  const after = profilers.map((p) => sampleProc(p.child.pid!));
  const wallS = (performance.now() - t0) / 1000;
  const bpf1 = bpfProgStats();

  const rows = profilers.map((p, i) => {
    const cpuPct = ((after[i]!.cpuS - before[i]!.cpuS) / wallS) * 100;
    return `| ${p.name} | \`${p.cmd}\` | ${cpuPct.toFixed(2)} % | ${(after[i]!.rssKiB / 1024).toFixed(1)} MiB | ${(peakRss[i]! / 1024).toFixed(1)} MiB |`;
  });
  const perProg = bpf1.map((b) => {
    const a = bpf0.find((x) => x.name === b.name);
    const runs = b.runCnt - (a?.runCnt ?? 0);
    const ns = b.runTimeNs - (a?.runTimeNs ?? 0);
    return { name: b.name, runs, nsPerRun: runs > 0 ? ns / runs : 0 };
  });
  // bpftrace names its program after the probe; the agent's is kiln_sample.
  const byName = new Map<string, { runs: number; nsPerRun: number }>();
  for (const p of perProg) {
    const cur = byName.get(p.name);
    if (!cur || p.runs > cur.runs) byName.set(p.name, p);
  }

  const g = await agentGauges();
  const mib = (name: string) => `${((g.get(name) ?? 0) / 1048576).toFixed(1)} MiB`;
  const stat = (name: string) => g.get(`kiln_agent_symbolizer_stat{stat="${name}"}`) ?? 0;
  const a = after[0]!;
  const memory =
    `Agent memory at the end: RSS ${(a.rssKiB / 1024).toFixed(1)} MiB = anonymous ${(a.anonKiB / 1024).toFixed(1)} MiB + file-backed ${(a.fileKiB / 1024).toFixed(1)} MiB ` +
    `(node binary and libraries, shared with other node processes); V8 heap ${mib('kiln_agent_nodejs_heap_size_used_bytes')} used of ${mib('kiln_agent_nodejs_heap_size_total_bytes')}, ` +
    `external ${mib('kiln_agent_nodejs_external_memory_bytes')}; symbolizer: ${stat('cachedSymbolTables')} tables / ${stat('cachedSymbols')} symbols, ` +
    `${stat('kernelSymbols')} kernel symbols, ${stat('cachedProcesses')} processes, ${stat('cachedResults')} cached names, ${stat('tableLoads')} table loads since start.`;
  const out = [
    `Run: ${new Date().toISOString()}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end, ${hz} Hz, ${seconds} s window after ${WARMUP_S} s warm-up.`,
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
    memory,
  ];
  console.log(out.join('\n'));
} finally {
  for (const p of profilers) p.child.kill('SIGINT');
  for (const w of workload) w.kill('SIGKILL');
  await sleep(2000);
  for (const p of profilers) p.child.kill('SIGKILL');
  execFileSync('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${statsBefore}`]);
  sink.close();
  rmSync(tmp, { recursive: true, force: true });
}
