/**
 * Every agent's true peak RSS on the load, warm-up included: bench/agent-overhead.ts reports the
 * highest RSS it sampled inside its window, after the warm-up — where the first-time table builds are not.
 * This runs it (every KILN_* setting passes through, e.g. KILN_AGENT_COMPARE_ROOT for an anchor tree in
 * the same run) and reads each agent's VmHWM (the kernel's own high-water mark, no sampling) every second
 * until it ends, with the time since the agent started when its mark last rose.
 *
 *   sudo npx tsx bench/agent-memory-hwm.ts [seconds=60] [hz=19]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLK_TCK = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Watched {
  readonly cmd: string;
  hwmKiB: number;
  rssKiB: number;
  /** Seconds after the agent started when VmHWM last rose. */
  risenAtS: number;
}

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

const bench = spawn('npx', ['tsx', path.join(ROOT, 'bench/agent-overhead.ts'), process.argv[2] ?? '60', process.argv[3] ?? '19'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
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
