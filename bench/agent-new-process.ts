/**
 * What a new process costs the agent's user space from first sight to its first interval, this checkout
 * beside another (KILN_AGENT_COMPARE_ROOT, e.g. an export of the code before a change), interleaved:
 * the unwinder's poll that dates and loads it (labels via `wanted`, maps, exe, tables pointed at, the
 * CPython reader's attach; BPF map writes go to an in-memory stand-in, so no BPF or root is needed),
 * then the interval's labels() + observe() of the symbolizer. CPU µs (user+sys of this process) per
 * process, over live processes the agent has not seen, after a warm-up set of the same binaries (as in
 * steady state, where a new process runs binaries seen before).
 *
 *   KILN_AGENT_COMPARE_ROOT=<checkout> npx tsx bench/agent-new-process.ts [rounds=5] [processes=40]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unwinderBpfStandIn } from './unwinder-bpf-stand-in.js';

const rounds = Number(process.argv[2] ?? 5);
const perRound = Number(process.argv[3] ?? 40);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const roots: [string, string][] = [['this checkout', ROOT]];
if (process.env.KILN_AGENT_COMPARE_ROOT) roots.unshift(['compared checkout', process.env.KILN_AGENT_COMPARE_ROOT]);

interface Side {
  readonly name: string;
  readonly mods: Record<string, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
const sides: Side[] = [];
for (const [name, root] of roots) {
  const load = (f: string) => import(path.join(root, 'src/agent', f));
  sides.push({
    name,
    mods: {
      tables: await load('unwind/process-tables.ts'),
      store: await load('unwind/table-store.ts'),
      labeler: await load('metadata/labeler.ts'),
      symbolizer: await load('symbolize/symbolizer.ts'),
      python: await load('python/process.ts'),
      maps: await load('symbolize/proc-maps.ts'),
    },
  });
}

// Processes of the bench's load kinds: CPython (its reader attaches), a shell, sleep.
const kinds: [string, string[]][] = [
  ['/usr/bin/python3', ['-c', 'import time; time.sleep(900)']],
  ['sh', ['-c', 'sleep 900']],
  ['sleep', ['900']],
];
const spawnSet = (n: number) => Array.from({ length: n }, (_, i) => spawn(kinds[i % kinds.length]![0], kinds[i % kinds.length]![1], { stdio: 'ignore' }));
const warm = spawnSet(kinds.length * 2);
const sets = Array.from({ length: rounds * sides.length }, () => spawnSet(perRound));
await new Promise((r) => setTimeout(r, 2000)); // every process past the unwinder's 200 ms age, libraries mapped

function round(side: Side, pids: number[]): number {
  const events: number[] = [];
  const { lib, mmap } = unwinderBpfStandIn(events);
  const m = side.mods;
  const labeler = new m.labeler!.MetadataLabeler({});
  const symbolizer = new m.symbolizer!.ProcSymbolizer({});
  const store = new m.store!.TableStore(lib, 4, (64 << 20) / 8, mmap, 4096);
  // Before the CPython part moved into `procs` (stop 25) the reader took the map and its fd; now only the /proc root.
  const python = m.python!.PythonProcesses.length >= 2 ? new m.python!.PythonProcesses(lib, 5) : new m.python!.PythonProcesses();
  const tables = new m.tables!.ProcessTables(lib, { procs: 1, pidEvents: 2, tableRequests: 3 }, store, {
    extensions: [python],
    wanted: (pid: number) => labeler.labels(pid, '').length > 0,
  });
  const firstSight = (list: number[]) => {
    events.push(...list);
    m.maps!.oneStatReadEach(() => tables.poll(1e9));
    m.maps!.oneStatReadEach(() => {
      for (const pid of list) {
        labeler.labels(pid, '');
        symbolizer.observe(pid);
      }
    });
  };
  firstSight(warm.map((k) => k.pid!)); // binaries, tables and symbolizer state of these kinds: known from here
  if (profiling) session.post('Profiler.start');
  const c = process.cpuUsage();
  firstSight(pids);
  const d = process.cpuUsage(c);
  if (profiling) session.post('Profiler.stop', (_e, r) => profiles.push({ side: side.name, profile: r.profile }));
  if (tables.stats().loads !== pids.length + warm.length) throw new Error(`${side.name}: ${tables.stats().loads} loads for ${pids.length + warm.length} processes`);
  return (d.user + d.system) / pids.length;
}

// KILN_BENCH_CPU_PROFILE=<prefix>: a V8 CPU profile of the measured first sights only, one file per side.
const profilePrefix = process.env.KILN_BENCH_CPU_PROFILE;
const profiling = profilePrefix !== undefined;
const session = new Session();
const profiles: { side: string; profile: unknown }[] = [];
if (profiling) {
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
}

const perSide = new Map<string, number[]>(sides.map((s) => [s.name, []]));
const load0 = loadavg()[0]!;
let next = 0;
for (let r = 0; r < rounds; r++) {
  for (const side of sides) perSide.get(side.name)!.push(round(side, sets[next++]!.map((k) => k.pid!)));
}
for (const k of [...warm, ...sets.flat()]) k.kill('SIGKILL');
// Each profile is one round's; the rounds of a side merge in a viewer (or read the largest).
profiles.forEach((p, i) => writeFileSync(`${profilePrefix}-${p.side.replace(/ /g, '-')}-${i}.cpuprofile`, JSON.stringify(p.profile)));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`Run: ${new Date().toISOString()}, load ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${rounds} rounds of ${perRound} new processes per side (python3, sh, sleep), interleaved; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}\n`);
console.log('| checkout | CPU µs per new process, by round | median |\n|---|---|---|');
for (const [name, xs] of perSide) console.log(`| ${name} | ${xs.map((x) => x.toFixed(0)).join(' · ')} | **${median(xs).toFixed(0)}** |`);
