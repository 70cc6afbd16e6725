/**
 * Where the agent's memory is at its peak on the issue's load, and when the peak happens (issue 11).
 *
 *   sudo npx tsx bench/agent-memory-peak.ts [seconds=60] [hz=19]
 *
 * Runs bench/agent-overhead.ts (its load, its agent, its window; KILN_AGENT_NODE_FLAGS and the other
 * KILN_* settings pass through) and watches its agent from outside: /proc/PID/smaps_rollup every 100 ms
 * (RSS, PSS, anonymous), the whole /proc/PID/smaps at each new high (bench/agent-memory-smaps.ts sorts
 * it by owner), and the agent's /metrics every second (V8 heap by space, external memory, CPU by stage),
 * so an RSS rise is matched with the stage that ran in the same second. Anchors in the same run: a bare
 * node with the agent's node flags, and one that only imports the agent's modules. The /metrics scrapes
 * cost the agent a little CPU and garbage: this run's figures are a breakdown, not the agent's overhead.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OWNERS, readBreakdown, readRollup, type Breakdown } from './agent-memory-smaps.js';

const seconds = process.argv[2] ?? '60';
const hz = process.argv[3] ?? '19';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const nodeFlags = (process.env.KILN_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number) => (kib / 1024).toFixed(1);

/** Seconds since this process started (from /proc: the same clock for every process). */
function ageS(pid: number): number {
  const start = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]) / CLK_TCK;
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) - start;
}

/** The agent agent-overhead.ts started from this checkout: the one with /metrics on a free port (0). */
function findAgent(): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const port = args.indexOf('--metrics-port');
      if (args.includes('agent') && args.some((a) => a.endsWith('kiln.js')) && args[port + 1] === '0' && readlinkSync(`/proc/${d}/cwd`) === ROOT.replace(/\/$/, '')) return Number(d);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

interface Scrape {
  readonly t: number;
  readonly g: Map<string, number>;
}
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

// The anchors: bare node with the agent's flags, and node importing the agent's modules (nothing run).
const bare = spawn(process.execPath, [...nodeFlags, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const importOnly = spawn(process.execPath, [...nodeFlags, '--input-type=module', '-e', `await import(${JSON.stringify(path.join(ROOT, 'dist/agent/agent.js'))}); setInterval(() => {}, 1000);`], { stdio: 'ignore' });

const bench = spawn('npx', ['tsx', 'bench/agent-overhead.ts', seconds, hz], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
let report = '';
let port = 0;
// The report comes out right after the window: its arrival marks the window's end (the bench's one-second
// loop runs late on a loaded host, so start + seconds falls short of it).
let reportAt = 0;
let agentPid = 0;
bench.stdout.on('data', (c: Buffer) => {
  if (!report && agentPid) reportAt = ageS(agentPid);
  report += c.toString();
});
bench.stderr.on('data', (c: Buffer) => {
  port ||= Number(/metrics on :(\d+)/.exec(c.toString())?.[1] ?? 0);
});
const exited = new Promise<void>((r) => bench.on('exit', () => r()));
let done = false;
void exited.then(() => (done = true));

while (!port && !done) await sleep(100);
const pid = findAgent();
if (!pid) throw new Error('no agent found (did agent-overhead.ts start?)');
agentPid = pid;
const nodeBinary = readlinkSync(`/proc/${pid}/exe`);

const rollups: { t: number; rssKiB: number; pssKiB: number; anonKiB: number }[] = [];
const highs: { t: number; b: Breakdown }[] = [];
// And one every 5 s, for the level the agent sits at between highs (the window's end).
const regular: { t: number; b: Breakdown }[] = [];
const scrapes: Scrape[] = [];
let anchors: { name: string; b: Breakdown }[] = [];
let scraping = false;
let lastScrape = 0;
let high = 0;
for (;;) {
  let t: number;
  try {
    t = ageS(pid);
    const r = readRollup(pid);
    rollups.push({ t, ...r });
    // A new high (by 256 KiB or more): where is it?
    if (r.rssKiB > high + 256) {
      high = r.rssKiB;
      highs.push({ t, b: readBreakdown(pid, nodeBinary) });
    }
    if (t - (regular.at(-1)?.t ?? 0) >= 5) regular.push({ t, b: readBreakdown(pid, nodeBinary) });
  } catch {
    break; // the agent exited
  }
  if (!scraping && t - lastScrape >= 1) {
    scraping = true;
    lastScrape = t;
    void scrape(port)
      .then((g) => scrapes.push({ t: ageS(pid), g }))
      .catch(() => undefined)
      .finally(() => (scraping = false));
  }
  if (anchors.length === 0 && t > 20) {
    anchors = [
      { name: 'bare node (same flags)', b: readBreakdown(bare.pid!, nodeBinary) },
      { name: "node importing the agent's modules", b: readBreakdown(importOnly.pid!, nodeBinary) },
    ];
    bare.kill('SIGKILL');
    importOnly.kill('SIGKILL');
  }
  await sleep(100);
}
await exited;
bare.kill('SIGKILL');
importOnly.kill('SIGKILL');

// The bench's window: from "window starting N s after the agent started" to N + seconds.
const windowStart = Number(/window starting (\d+) s after/.exec(report)?.[1] ?? 0);
const windowEnd = reportAt || windowStart + Number(seconds);
const inWindow = rollups.filter((r) => r.t >= windowStart && r.t <= windowEnd);
const peakOf = (rs: typeof rollups) => rs.reduce((a, b) => (b.rssKiB > a.rssKiB ? b : a), rs[0]!);
const peakAll = peakOf(rollups);
const peakWin = inWindow.length ? peakOf(inWindow) : peakAll;
// The breakdown taken at the highest RSS seen up to the window's peak.
const atPeak = highs.filter((h) => h.t <= peakWin.t + 0.2).at(-1)!;
const atEnd = regular.filter((r) => r.t <= windowEnd).at(-1) ?? regular.at(-1)!;
const before = (t: number) => scrapes.filter((s) => s.t <= t).at(-1);
const gAt = before(peakWin.t)?.g ?? new Map<string, number>();
const g = (k: string) => gAt.get(k) ?? 0;

const lines: string[] = [];
lines.push(`Agent pid ${pid}, ${rollups.length} samples of smaps_rollup (every 100 ms), ${scrapes.length} /metrics scrapes, ${highs.length} full smaps reads at new highs.`);
lines.push(`Window (agent-overhead.ts): ${windowStart}–${windowEnd.toFixed(0)} s after the agent started. Peak overall ${mib(peakAll.rssKiB)} MiB at ${peakAll.t.toFixed(1)} s; peak in the window ${mib(peakWin.rssKiB)} MiB at ${peakWin.t.toFixed(1)} s (PSS ${mib(peakWin.pssKiB)}, anonymous ${mib(peakWin.anonKiB)}); end ${mib(rollups.at(-1)!.rssKiB)} MiB.`);
lines.push('', `Resident memory by owner (MiB RSS / PSS): the agent at the highest full read ≤ the window's peak (${atPeak.t.toFixed(1)} s) and at the window's end (${atEnd.t.toFixed(1)} s), and the anchors at 20 s:`, '');
lines.push(`| owner | agent at peak | agent at the end | ${anchors.map((a) => a.name).join(' | ')} |`, `|---|---|---|${anchors.map(() => '---').join('|')}|`);
const cell = (b: Breakdown, o: (typeof OWNERS)[number]) => `${mib(b.byOwner.get(o)!.rssKiB)} / ${mib(b.byOwner.get(o)!.pssKiB)}`;
for (const o of OWNERS) lines.push(`| ${o} | ${cell(atPeak.b, o)} | ${cell(atEnd.b, o)} | ${anchors.map((a) => cell(a.b, o)).join(' | ')} |`);
lines.push(`| **total** | ${mib(atPeak.b.rssKiB)} | ${mib(atEnd.b.rssKiB)} | ${anchors.map((a) => mib(a.b.rssKiB)).join(' | ')} |`);
const spaces = ['new', 'old', 'code', 'map', 'large_object', 'code_large_object', 'new_large_object', 'read_only', 'shared'];
lines.push(
  '',
  `V8 at the last scrape before the peak: heap used ${mib(g('kiln_agent_nodejs_heap_size_used_bytes') / 1024)} of ${mib(g('kiln_agent_nodejs_heap_size_total_bytes') / 1024)} MiB committed ` +
    `(${spaces.filter((s) => gAt.has(`kiln_agent_nodejs_heap_space_size_total_bytes{space="${s}"}`)).map((s) => `${s} ${mib(g(`kiln_agent_nodejs_heap_space_size_used_bytes{space="${s}"}`) / 1024)}/${mib(g(`kiln_agent_nodejs_heap_space_size_total_bytes{space="${s}"}`) / 1024)}`).join(', ')}); ` +
    `external ${mib(g('kiln_agent_nodejs_external_memory_bytes') / 1024)} MiB (counts koffi views of freed working memory until their objects are collected).`,
);

// Each second between two scrapes: how far RSS rose above where it started, and what the agent did.
const stages = ['read', 'symbolize_label', 'encode', 'send', 'unwind_tables'];
const stat = (s: Scrape, k: string) => s.g.get(k) ?? 0;
const rises = scrapes.slice(1).map((s, i) => {
  const p = scrapes[i]!;
  const rs = rollups.filter((r) => r.t >= p.t && r.t <= s.t);
  const startKiB = rs[0]?.rssKiB ?? 0;
  const maxKiB = Math.max(0, ...rs.map((r) => r.rssKiB));
  const did = stages
    .map((st) => [st, stat(s, `kiln_agent_interval_cpu_seconds_total{stage="${st}"}`) - stat(p, `kiln_agent_interval_cpu_seconds_total{stage="${st}"}`)] as const)
    .filter(([, v]) => v > 0.0005)
    .map(([st, v]) => `${st} ${(v * 1000).toFixed(0)} ms`);
  const d = (k: string) => stat(s, k) - stat(p, k);
  const extra = [
    [d('kiln_agent_unwind_tables{stat="loads"}'), 'processes loaded for unwinding'],
    [d('kiln_agent_unwind_tables{stat="tableLoads"}'), 'unwind table requests'],
    [d('kiln_agent_symbolizer_stat{stat="tableLoads"}'), 'symbol tables read'],
    [d('kiln_agent_symbolizer_stat{stat="kallsymsLoads"}'), 'kallsyms reads'],
    [d('kiln_agent_interval_duration_seconds_count'), 'intervals'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`);
  return { from: p.t, to: s.t, riseKiB: maxKiB - startKiB, maxKiB, did: [...did, ...extra].join(', ') || '(no stage CPU counted)' };
});
const shown = [...rises].sort((a, b) => b.riseKiB - a.riseKiB).slice(0, 8);
const peakSecond = rises.find((r) => r.from <= peakWin.t && peakWin.t <= r.to);
if (peakSecond && !shown.includes(peakSecond)) shown.push(peakSecond);
lines.push('', "The largest rises of RSS within one second between two scrapes, and what the agent did in that second (stage CPU from its counters):", '');
lines.push('| seconds after start | RSS rise (MiB) | RSS max in it | what ran |', '|---|---|---|---|');
for (const r of shown.sort((a, b) => a.from - b.from)) lines.push(`| ${r.from.toFixed(1)}–${r.to.toFixed(1)}${r === peakSecond ? ' (window peak)' : ''} | ${mib(r.riseKiB)} | ${mib(r.maxKiB)} | ${r.did} |`);
lines.push('', '---', "agent-overhead.ts's report of the same run:", '', report);
console.log(lines.join('\n'));
