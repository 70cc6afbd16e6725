/**
 * BPF time per sample of the user-stack walker (`kiln_sample`), next to bpftrace's fp-only
 * `profile:hz` program in the same run: issue 11's "BPF ≤ 15 µs per sample".
 *
 * The load: three busy processes whose stacks need the unwind tables — a C program built
 * -O2 -fomit-frame-pointer (test/agent/fixtures/chain.c), Debian's python3 (fixtures/fg.py: CPython
 * frames merged with the interpreter's native ones, python3.11's 65 k rows) and node (fixtures/burn.js:
 * JIT frames by frame pointer, then node's own 372 k rows). The agent runs in this process with its
 * real pipeline (tables, CPython reader, sampler, OTLP to a sink), labelling only the workload's pids so
 * the host's other processes cost it no symbolizing; its BPF program still samples every process on the
 * host, as bpftrace's does. Run time per sample from bpftool with kernel.bpf_stats_enabled=1, by the
 * program ids each profiler holds.
 *
 *   sudo npx tsx bench/bpf-walk.ts [seconds=30] [hz=49] [runs=3] [tables|fp|both] [floor|busy|floor,busy]
 *
 * `fp` runs the agent with --no-unwind-tables (frame pointers only, CPython frames still read): what
 * the walk costs without the tables, against the same anchor; `both` alternates the two in each run.
 * `floor` also attaches bench/bpf-floor.ts' programs in the same runs (an empty program, the stack helpers,
 * a frame-pointer walk, a hash count, cold reads: what any sample costs here) and adds a fourth busy
 * process, test/agent/fixtures/recurse.c 30 calls deep with frame pointers, so the walk has frames to take.
 * `busy` runs four of each of the three workloads (twelve busy processes on the host's CPUs), as the issue's
 * load runs four of each kind: then most samples are the workload's, whose frames need table searches, where
 * the default mix's samples are mostly the host's other processes (no tables: a frame-pointer step, no
 * search) — on the issue's load 16.9 searches a sample, here 2–3.8 without `busy`.
 * Needs clang, python3, bpftool, bpftrace. Prints one Markdown row per run and the medians.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../src/agent/agent.js';
import { resolveConfig } from '../src/agent/config.js';
import { MetadataLabeler } from '../src/agent/metadata/index.js';
import { FLOOR_PROGRAMS, floorWork, HIST_SLOTS, histSummary, startFloor, type FloorProgram } from './bpf-floor.js';
import { phaseLines, phaseTotals } from './bpf-phases.js';
import { bpfProgStats, programIdsOf } from './bpf-programs.js';

const seconds = Number(process.argv[2] ?? 30);
const hz = Number(process.argv[3] ?? 49);
const runs = Number(process.argv[4] ?? 3);
const modeArg = process.argv[5] ?? 'tables';
if (modeArg !== 'tables' && modeArg !== 'fp' && modeArg !== 'both') throw new Error(`mode must be tables, fp or both, not ${modeArg}`);
type Mode = 'tables' | 'fp';
const modes: Mode[] = modeArg === 'both' ? ['tables', 'fp'] : [modeArg];
const extras = new Set((process.argv[6] ?? '').split(',').filter((x) => x !== ''));
for (const x of extras) if (x !== 'floor' && x !== 'busy') throw new Error(`the sixth argument is floor, busy, both (floor,busy) or nothing, not ${process.argv[6]}`);
const withFloor = extras.has('floor');
/** Copies of each workload process. */
const copies = extras.has('busy') ? 4 : 1;
const WARMUP_S = 10;
const ROOT = fileURLToPath(new URL('../', import.meta.url));
if (process.getuid?.() !== 0) throw new Error('run as root: the agent and bpftrace need it');

const tmp = mkdtempSync(path.join(tmpdir(), 'kiln-bench-walk-'));
const fixture = (f: string) => path.join(ROOT, 'test/agent/fixtures', f);
const chain = path.join(tmp, 'chain');
execFileSync('clang', ['-O2', '-fomit-frame-pointer', fixture('chain.c'), '-o', chain]);
const recurse = path.join(tmp, 'recurse');
if (withFloor) execFileSync('clang', ['-O2', '-fno-omit-frame-pointer', fixture('recurse.c'), '-o', recurse]);

type ProgStat = ReturnType<typeof bpfProgStats>[number];
/** µs per run of the perf-event programs among `ids` between two bpftool snapshots. */
function usPerSample(before: ProgStat[], after: ProgStat[], ids: Set<number>): { us: number; runs: number } {
  let ns = 0;
  let n = 0;
  for (const b of after.filter((p) => ids.has(p.id))) {
    const a = before.find((p) => p.id === b.id);
    ns += b.runTimeNs - (a?.runTimeNs ?? 0);
    n += b.runCnt - (a?.runCnt ?? 0);
  }
  return { us: n > 0 ? ns / n / 1000 : 0, runs: n };
}

const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunResult {
  readonly load: string;
  readonly kiln: { us: number; runs: number };
  readonly bpftrace: { us: number; runs: number };
  readonly walks: string;
  readonly phases?: readonly number[];
  readonly floor?: readonly { name: FloorProgram; us: number; runs: number; work: string }[];
}

async function oneRun(mode: Mode): Promise<RunResult> {
  const total = String(seconds + WARMUP_S + 5);
  const quiet = { stdio: 'ignore' } as const;
  const workload: ChildProcess[] = [
    ...Array.from({ length: copies }, () => [
      spawn(chain, [total], quiet),
      spawn('/usr/bin/python3', [fixture('fg.py'), total], quiet),
      spawn(process.execPath, [fixture('burn.js'), total], quiet),
    ]).flat(),
    ...(withFloor ? [spawn(recurse, ['30'], quiet)] : []),
  ];
  const pids = new Set(workload.map((w) => w.pid!));
  const inner = new MetadataLabeler({ nodeName: 'bench' });
  const agent = await startAgent(resolveConfig({}, { server: sinkUrl, frequency: hz, interval: '10s', metricsPort: -1, unwindTables: mode === 'tables' }), {
    labeler: { labels: (pid, comm) => (pids.has(pid) ? inner.labels(pid, comm) : []) },
    log: () => {},
  });
  const bpftrace = spawn('bpftrace', ['-e', `profile:hz:${hz} { @[kstack, ustack, comm] = count(); }`], quiet);
  const floor = withFloor ? startFloor(tmp, hz) : undefined;
  try {
    await sleep(WARMUP_S * 1000);
    const load0 = loadavg()[0]!;
    const walks0 = await walkResults(agent.metrics.registry);
    const ph0 = phaseTotals();
    const f0 = floor?.sums();
    const h0 = floor?.hists();
    const p0 = bpfProgStats();
    await sleep(seconds * 1000);
    const p1 = bpfProgStats();
    const f1 = floor?.sums();
    const h1 = floor?.hists();
    const ph1 = phaseTotals();
    const walks1 = await walkResults(agent.metrics.registry);
    const n = [...walks1.values()].reduce((s, v) => s + v, 0) - [...walks0.values()].reduce((s, v) => s + v, 0);
    const share = (r: string) => (n > 0 ? ((100 * ((walks1.get(r) ?? 0) - (walks0.get(r) ?? 0))) / n).toFixed(1) : '0');
    return {
      load: `${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`,
      kiln: usPerSample(p0, p1, new Set([...programIdsOf(process.pid)].filter((id) => ![...(floor?.ids.values() ?? [])].includes(id)))),
      bpftrace: usPerSample(p0, p1, programIdsOf(bpftrace.pid!)),
      phases: ph0 && ph1 ? ph1.map((v, i) => v - (ph0[i] ?? 0)) : undefined,
      floor:
        floor && f0 && f1 && h0 && h1
          ? FLOOR_PROGRAMS.map((name, p) => {
              const s = usPerSample(p0, p1, new Set([floor.ids.get(name) ?? -1]));
              const hist = h1.slice(p * HIST_SLOTS, (p + 1) * HIST_SLOTS).map((v, i) => v - (h0[p * HIST_SLOTS + i] ?? 0));
              const work = floorWork(name, f1.map((v, i) => v - (f0[i] ?? 0)), s.runs);
              return { name, ...s, work: name === 'floor_empty' ? work : `${work}; ${histSummary(hist)}` };
            })
          : undefined,
      walks: `complete ${share('complete')} %, no_tables ${share('no_tables')} %, read_error ${share('read_error')} %, bad_pc ${share('bad_pc')} %`,
    };
  } finally {
    floor?.stop();
    bpftrace.kill('SIGINT');
    await agent.stop(5000);
    for (const w of workload) w.kill('SIGKILL');
    await sleep(1000);
    bpftrace.kill('SIGKILL');
  }
}

/** kiln_agent_unwind_stacks_total by result, from the in-process agent's registry (its exposition text). */
async function walkResults(registry: { metrics(): Promise<string> }): Promise<Map<string, number>> {
  const text = await registry.metrics();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^kiln_agent_unwind_stacks_total\{result="([a-z_]+)"\} ([0-9.e+]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  let commit = 'outside git';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // a copy of the tree (e.g. `git archive` of an older commit, to measure before a change)
  }
  console.log(`bench/bpf-walk.ts ${seconds} s × ${runs} runs at ${hz} Hz, mode ${modeArg} (tables: unwind tables on; fp: frame pointers only), ${copies} of each workload${withFloor ? ', floor programs' : ''}, commit ${commit} (+ working tree), ${new Date().toISOString()}\n`);
  console.log('| run | mode | load avg (start → end) | `kiln_sample` µs / sample (runs) | bpftrace µs / sample (runs) | ratio | walks |');
  console.log('|---|---|---|---|---|---|---|');
  const results = new Map<Mode, RunResult[]>(modes.map((m) => [m, []]));
  for (let i = 1; i <= runs; i++) {
    for (const mode of modes) {
      const r = await oneRun(mode);
      results.get(mode)!.push(r);
      console.log(`| ${i} | ${mode} | ${r.load} | ${r.kiln.us.toFixed(2)} (${r.kiln.runs}) | ${r.bpftrace.us.toFixed(2)} (${r.bpftrace.runs}) | ${(r.kiln.us / r.bpftrace.us).toFixed(2)} | ${r.walks} |`);
      if (r.phases) console.log(phaseLines(r.phases));
      for (const f of r.floor ?? []) console.log(`|   | ${f.name} | | ${f.us.toFixed(2)} (${f.runs}) | | ${(f.us / r.bpftrace.us).toFixed(2)} | ${f.work} |`);
    }
  }
  for (const [mode, rs] of results) {
    const k = median(rs.map((r) => r.kiln.us));
    const b = median(rs.map((r) => r.bpftrace.us));
    console.log(`| **median** | ${mode} | | **${k.toFixed(2)}** | **${b.toFixed(2)}** | **${median(rs.map((r) => r.kiln.us / r.bpftrace.us)).toFixed(2)}** | |`);
    for (const name of withFloor ? FLOOR_PROGRAMS : []) {
      const us = rs.map((r) => r.floor?.find((f) => f.name === name)?.us ?? 0);
      console.log(`| **median** | ${name} | | **${median(us).toFixed(2)}** (${us.map((u) => u.toFixed(2)).join(', ')}) | | | |`);
    }
  }
} finally {
  execFileSync('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${statsBefore}`]);
  sink.close();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
