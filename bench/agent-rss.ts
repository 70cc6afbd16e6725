/**
 * Agent memory, two builds side by side: `kiln agent` from checkout A and from checkout B run at the
 * same time on the same host and load, so a change's effect on RSS is not lost in the run-to-run spread
 * of a shared machine (one agent alone moved 134–190 MiB between runs). Anchors in the same run: a bare
 * `node` process, and a node process that only imports B's agent modules (what Kiln's code costs before
 * it does any work).
 *
 *   sudo npx tsx bench/agent-rss.ts <checkout A> <checkout B> [seconds=120] [warmup=30]
 *
 * Each checkout must hold a tsc build (dist/) and node_modules. The load: 2 busy C, 2 Node and 2 python3
 * processes, 10 idle ones, and 2 short-lived processes started per second. RSS, anonymous and file-backed
 * pages are sampled from /proc every 5 s after the warm-up (mean and max), CPU (user+sys) over the same
 * window, and each agent's V8 heap and external memory from its /metrics at the end. Prints Markdown.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleProc } from './proc-usage.js';

const [dirA, dirB] = [process.argv[2], process.argv[3]].map((d) => (d ? path.resolve(d) : ''));
const seconds = Number(process.argv[4] ?? 120);
const warmupS = Number(process.argv[5] ?? 30);
if (!dirA || !dirB) throw new Error('usage: bench/agent-rss.ts <checkout A> <checkout B> [seconds] [warmup]');
for (const d of [dirA, dirB]) if (!existsSync(path.join(d, 'dist/agent/cli-main.js'))) throw new Error(`${d}: no dist/ build (run npx tsc -p tsconfig.json there)`);
if (process.getuid?.() !== 0) throw new Error('run as root: the agent needs it');

const fixtures = fileURLToPath(new URL('../test/agent/fixtures/', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'kiln-bench-rss-'));

/** CPU seconds so far and memory in MiB. */
function usage(pid: number) {
  const p = sampleProc(pid);
  return { cpuS: p.cpuS, rssMiB: p.rssKiB / 1024, anonMiB: p.anonKiB / 1024, fileMiB: p.fileKiB / 1024 };
}
type Usage = ReturnType<typeof usage>;

// The load.
const quiet = { stdio: 'ignore' } as const;
const burn = path.join(tmp, 'burn');
execFileSync('cc', ['-O0', '-fno-omit-frame-pointer', path.join(fixtures, 'burn.c'), '-o', burn]);
const life = String(seconds + warmupS + 30);
const load: ChildProcess[] = [];
for (let i = 0; i < 2; i++) {
  load.push(spawn(burn, [life], quiet), spawn(process.execPath, [path.join(fixtures, 'burn.js'), life], quiet), spawn('python3', [path.join(fixtures, 'fg.py'), life], quiet));
}
for (let i = 0; i < 10; i++) load.push(spawn('sleep', [life], quiet));
let churned = 0;
const churn = setInterval(() => {
  churned++;
  if (churned % 2) spawn('sh', ['-c', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done'], quiet);
  else spawn('python3', ['-c', 'sum(range(50000))'], quiet);
}, 500);

// A sink for the agents' requests.
const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

interface Agent {
  readonly name: string;
  readonly child: ChildProcess;
  metricsPort: number;
}

function startAgent(name: string, dir: string): Agent {
  const child = spawn(process.execPath, [path.join(dir, 'bin/kiln.js'), 'agent', '--server', sinkUrl, '--frequency', '19', '--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const a: Agent = { name, child, metricsPort: 0 };
  child.stderr!.on('data', (c: Buffer) => {
    a.metricsPort ||= Number(/metrics on :(\d+)/.exec(c.toString())?.[1] ?? 0);
  });
  return a;
}

async function gauges(a: Agent): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!a.metricsPort) return out;
  const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
  for (const m of text.matchAll(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const agents = [startAgent('A', dirA), startAgent('B', dirB)];
const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], quiet);
const importOnly = spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(path.join(dirB, 'dist/agent/agent.js'))}); setInterval(() => {}, 1000);`], quiet);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await sleep(warmupS * 1000);
  const load0 = loadavg()[0]!;
  const watched = [...agents.map((a) => a.child), bare, importOnly];
  const first = watched.map((c) => usage(c.pid!));
  const samples: Usage[][] = watched.map(() => []);
  const t0 = performance.now();
  for (let s = 0; s < seconds; s += 5) {
    await sleep(5000);
    watched.forEach((c, i) => samples[i]!.push(usage(c.pid!)));
  }
  const wallS = (performance.now() - t0) / 1000;
  const mean = (xs: number[]) => xs.reduce((n, x) => n + x, 0) / xs.length;
  const row = (name: string, i: number, extra: string) => {
    const s = samples[i]!;
    const last = s[s.length - 1]!;
    const cpu = ((last.cpuS - first[i]!.cpuS) / wallS) * 100;
    return `| ${name} | ${mean(s.map((u) => u.rssMiB)).toFixed(1)} | ${Math.max(...s.map((u) => u.rssMiB)).toFixed(1)} | ${last.rssMiB.toFixed(1)} | ${mean(s.map((u) => u.anonMiB)).toFixed(1)} | ${mean(s.map((u) => u.fileMiB)).toFixed(1)} | ${cpu.toFixed(2)} % | ${extra} |`;
  };
  const lines = [
    `Run: ${new Date().toISOString()}, 1-min load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${seconds} s window after ${warmupS} s, ${churned} short-lived processes.`,
    `A = ${dirA}, B = ${dirB}.`,
    '',
    '| process | RSS mean (MiB) | max | end | anonymous mean | file-backed mean | CPU (% of one core) | at the end |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [i, a] of agents.entries()) {
    const g = await gauges(a);
    const mib = (k: string) => ((g.get(k) ?? 0) / 1048576).toFixed(1);
    const stat = (k: string) => g.get(`kiln_agent_symbolizer_stat{stat="${k}"}`) ?? 0;
    lines.push(
      row(`kiln agent ${a.name}`, i, `heap ${mib('kiln_agent_nodejs_heap_size_used_bytes')} used of ${mib('kiln_agent_nodejs_heap_size_total_bytes')}, external ${mib('kiln_agent_nodejs_external_memory_bytes')}; ${stat('cachedSymbolTables')} tables, ${stat('cachedSymbols')} symbols`),
    );
  }
  lines.push(row('bare node (anchor)', 2, ''), row("node importing B's agent modules (anchor)", 3, ''));
  console.log(lines.join('\n'));
} finally {
  clearInterval(churn);
  for (const a of agents) a.child.kill('SIGINT');
  for (const c of [...load, bare, importOnly]) c.kill('SIGKILL');
  await sleep(2000);
  for (const a of agents) a.child.kill('SIGKILL');
  sink.close();
  rmSync(tmp, { recursive: true, force: true });
}
