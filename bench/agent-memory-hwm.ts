/**
 * Every agent's true peak RSS on the issue's load, warm-up included: bench/agent-overhead.ts reports the
 * highest RSS it sampled inside its window, after the warm-up — where the first-time table builds are not.
 * This runs it (every KILN_* setting passes through, e.g. KILN_AGENT_COMPARE_ROOT for an anchor tree in
 * the same run) and reads each agent's VmHWM (the kernel's own high-water mark, no sampling) every second
 * until it ends, with the time since the agent started when its mark last rose.
 *
 * Every 10 s it also reads each agent's /proc/PID/smaps by owner (bench/agent-memory-smaps.ts) and prints the last
 * read taken inside the window: what the level past the warm-up is made of. With KILN_BENCH_AGENT_STDOUT=<prefix>
 * and `--trace-gc` among KILN_AGENT_NODE_FLAGS, it counts each agent's GCs from V8's lines (scavenges and
 * mark-compacts in the window, V8's committed heap at its highest there), for a setting that trades RSS for GC work.
 *
 *   sudo npx tsx bench/agent-memory-hwm.ts [seconds=60] [hz=19]
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OWNERS, readBreakdown, type Breakdown } from './agent-memory-smaps.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLK_TCK = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Watched {
  readonly cmd: string;
  hwmKiB: number;
  rssKiB: number;
  /** Seconds after the agent started when VmHWM last rose. */
  risenAtS: number;
  /** The last read by owner inside the window, and the agent's age then. */
  owners?: { readonly atS: number; readonly breakdown: Breakdown };
}

const seconds = Number(process.argv[2] ?? 60);
const WARMUP_S = Number(process.env.KILN_BENCH_WARMUP_S ?? 15);

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function ageS(pid: number): number {
  const start = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]) / CLK_TCK;
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) - start;
}

/** The kiln agents running now (any tree's): `node … bin/kiln.js agent … --metrics-port …`. */
function agents(): Map<number, string> {
  const out = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.includes('agent') && args.includes('--metrics-port') && args.some((a) => a.endsWith(path.join('bin', 'kiln.js')))) out.set(Number(d), args.find((a) => a.endsWith('kiln.js'))!);
    } catch {
      // gone
    }
  }
  return out;
}

const bench = spawn('npx', ['tsx', path.join(ROOT, 'bench/agent-overhead.ts'), String(seconds), process.argv[3] ?? '19'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
let running = true;
bench.on('exit', () => (running = false));
const watched = new Map<number, Watched>();
const load0 = loadavg()[0]!;
while (running) {
  await sleep(1000);
  for (const [pid, cmd] of agents()) {
    try {
      const w = watched.get(pid) ?? { cmd, hwmKiB: 0, rssKiB: 0, risenAtS: 0 };
      const hwm = statusKiB(pid, 'VmHWM');
      if (hwm > w.hwmKiB) {
        w.hwmKiB = hwm;
        w.risenAtS = ageS(pid);
      }
      w.rssKiB = statusKiB(pid, 'VmRSS');
      // The window starts after the warm-up, once the agent's intervals are done (≈ its start + the warm-up).
      const age = ageS(pid);
      if (age >= WARMUP_S && age <= WARMUP_S + seconds && age - (w.owners?.atS ?? 0) >= 10) w.owners = { atS: age, breakdown: readBreakdown(pid, process.execPath) };
      watched.set(pid, w);
    } catch {
      // exited between the listing and the read
    }
  }
}
console.log(`\nbench/agent-memory-hwm.ts: 1-min load ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, ${new Date().toISOString()}`);
console.log('| agent (its kiln.js) | VmHWM: peak RSS since start | last rise, s after start | RSS at last read |');
console.log('|---|---|---|---|');
for (const w of watched.values()) console.log(`| ${w.cmd} | ${(w.hwmKiB / 1024).toFixed(1)} MiB | ${w.risenAtS.toFixed(0)} | ${(w.rssKiB / 1024).toFixed(1)} MiB |`);

const withOwners = [...watched.values()].filter((w) => w.owners);
if (withOwners.length > 0) {
  console.log('\nThe last read by owner inside the window (MiB RSS; bench/agent-memory-smaps.ts):\n');
  console.log(`| owner | ${withOwners.map((w) => `${w.cmd} (at ${w.owners!.atS.toFixed(0)} s)`).join(' | ')} |`);
  console.log(`|---|${withOwners.map(() => '---|').join('')}`);
  for (const o of OWNERS) {
    const v = withOwners.map((w) => w.owners!.breakdown.byOwner.get(o)?.rssKiB ?? 0);
    if (v.some((x) => x > 0)) console.log(`| ${o} | ${v.map((x) => (x / 1024).toFixed(1)).join(' | ')} |`);
  }
  console.log(`| total | ${withOwners.map((w) => (w.owners!.breakdown.rssKiB / 1024).toFixed(1)).join(' | ')} |`);
}

// V8's --trace-gc lines: "[pid:0x…]  301234 ms: Scavenge 20.1 (24.3) -> 19.2 (24.3) MB, …" (ms since the agent's isolate started).
const stdoutPrefix = process.env.KILN_BENCH_AGENT_STDOUT;
if (stdoutPrefix) {
  console.log('\nGCs from --trace-gc (agent 0 = this checkout, then the compared ones in order):\n');
  console.log('| agent | scavenges in the window | mark-compacts in the window | V8 heap committed at its highest in the window, MB | scavenges / mark-compacts since start |');
  console.log('|---|---|---|---|---|');
  for (let n = 0; existsSync(`${stdoutPrefix}-${n}`); n++) {
    let scav = 0, mc = 0, scavAll = 0, mcAll = 0, committed = 0;
    for (const m of readFileSync(`${stdoutPrefix}-${n}`, 'utf8').matchAll(/ (\d+) ms: (Scavenge|Mark-Compact)[^\n]*? [\d.]+ \(([\d.]+)\) -> [\d.]+ \(([\d.]+)\) MB/g)) {
      const atS = Number(m[1]) / 1000;
      const isScavenge = m[2] === 'Scavenge';
      if (isScavenge) scavAll++;
      else mcAll++;
      if (atS < WARMUP_S || atS > WARMUP_S + seconds) continue;
      if (isScavenge) scav++;
      else mc++;
      committed = Math.max(committed, Number(m[3]), Number(m[4]));
    }
    console.log(`| ${n} | ${scav} | ${mc} | ${committed.toFixed(1)} | ${scavAll} / ${mcAll} |`);
  }
}
