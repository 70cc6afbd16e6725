/**
 * A running agent's CPU minute by minute: does its warm-up end, and where does each minute go? Attach to
 * an agent another bench started (e.g. bench/agent-overhead.ts with KILN_BENCH_WARMUP_S=900) and print one
 * row per step: CPU % of one core for the main thread (its stages apart, from the agent's own
 * kiln_agent_interval_cpu_seconds_total{stage}), V8's platform threads (#1–#5: GC and compilation) and the
 * others, and — when the agent runs with node's --perf-basic-prof — the code objects V8 created in the step
 * by tier (TurboFan `*`, Maglev `+`, Sparkplug `^`, bytecode `~`), from its perf map's new lines.
 *
 *   sudo npx tsx bench/agent-timeline.ts <agent pid> <metrics port> [steps=16] [step seconds=60]
 *
 * Reads /proc and the agent's /metrics only (no lock needed: it runs no agent of its own); clock-tick
 * resolution, so a step's figures are ±1 tick (±0.017 % of one core over 60 s) per thread.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { sampleThreads, threadGroups } from './proc-threads.js';

const pid = Number(process.argv[2]);
const port = Number(process.argv[3]);
const steps = Number(process.argv[4] ?? 16);
const stepS = Number(process.argv[5] ?? 60);
if (!pid || !port) throw new Error('usage: agent-timeline.ts <agent pid> <metrics port> [steps] [step seconds]');

const STAGES = ['read', 'symbolize_label', 'encode', 'send', 'unwind_tables'] as const;
const TIERS = { '*': 'turbofan', '+': 'maglev', '^': 'sparkplug', '~': 'bytecode' } as const;

async function stageSeconds(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^kiln_agent_interval_cpu_seconds_total\{stage="([a-z_]+)"\} ([0-9.e+-]+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Code objects in the perf map so far, by tier marker (JS functions only). */
function codeByTier(): Map<string, number> {
  const out = new Map<string, number>();
  const file = `/tmp/perf-${pid}.map`;
  if (!existsSync(file)) return out;
  for (const m of readFileSync(file, 'utf8').matchAll(/^\S+ \S+ JS:([*+^~])/gm)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
  return out;
}

const startTicks = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
const uptimeS = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const agentAgeS = () => uptimeS() - startTicks / 100;

console.log(`| agent age (min) | load | main % | of which stages % | main outside stages % | V8 platform % | others % | ${Object.values(TIERS).join(' | ')} |`);
console.log(`|---|---|---|---|---|---|---|${Object.values(TIERS).map(() => '---|').join('')}`);
let threads0 = sampleThreads(pid);
let stages0 = await stageSeconds();
let code0 = codeByTier();
for (let i = 0; i < steps; i++) {
  await new Promise((r) => setTimeout(r, stepS * 1000));
  if (!existsSync(`/proc/${pid}`)) break;
  const threads1 = sampleThreads(pid);
  const stages1 = await stageSeconds();
  const code1 = codeByTier();
  const groups = threadGroups(pid, threads0, threads1);
  const pct = (s: number) => ((s / stepS) * 100).toFixed(3);
  const main = groups.get('main thread')?.cpu ?? 0;
  const inStages = STAGES.reduce((n, st) => n + (stages1.get(st) ?? 0) - (stages0.get(st) ?? 0), 0);
  const tiers = Object.keys(TIERS).map((k) => (code1.get(k) ?? 0) - (code0.get(k) ?? 0));
  console.log(`| ${(agentAgeS() / 60).toFixed(1)} | ${loadavg()[0]!.toFixed(1)} | ${pct(main)} | ${pct(inStages)} | ${pct(main - inStages)} | ${pct(groups.get('V8 platform (#1–#5)')?.cpu ?? 0)} | ${pct(groups.get('others (#6 on)')?.cpu ?? 0)} | ${tiers.join(' | ')} |`);
  [threads0, stages0, code0] = [threads1, stages1, code1];
}
