/**
 * An unwinder poll's main-thread CPU on real BPF maps, as the agent pays it past the warm-up: a poll on its
 * own timer, every IDLE_POLL_MS, woken from sleep (cold caches), while another process starts 5 short-lived
 * processes a second (the issue's churn: sh and python3 one-liners). This checkout beside another
 * (KILN_AGENT_COMPARE_ROOT, e.g. an export of the code before a change), in alternating rounds, each round
 * a fresh BPF object and unwinder; the first seconds of a round (the busy processes' first loads) are not
 * counted. Run as root:
 *
 *   KILN_AGENT_COMPARE_ROOT=<checkout> npx tsx bench/agent-poll-cost.ts [rounds=3] [seconds=30]
 *
 * Prints per round the polls counted and their median CPU (µs), and the processes loaded.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 30);
const SETTLE_S = 5;
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const roots: [string, string][] = [['this checkout', ROOT]];
if (process.env.KILN_AGENT_COMPARE_ROOT) roots.push(['compared checkout', process.env.KILN_AGENT_COMPARE_ROOT]);

interface Side {
  readonly name: string;
  readonly loader: { BpfProfiler: { start(o: object): { close(): void } } };
  readonly unwind: { startUnwinding(bpf: unknown, o: object): { stop(): void; stats(): { loads: number } } };
}
const sides: Side[] = [];
for (const [name, root] of roots) {
  sides.push({ name, loader: await import(path.join(root, 'src/agent/loader.ts')), unwind: await import(path.join(root, 'src/agent/unwind/index.ts')) });
}

// The churn, from another process so that this one sleeps between polls as the agent does.
const churn = spawn(
  process.execPath,
  ['-e', `const {spawn}=require('child_process');let n=0;setInterval(()=>{n++;if(n%2)spawn('sh',['-c','i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done'],{stdio:'ignore'});else spawn('/usr/bin/python3',['-c','sum(i * i for i in range(100000))'],{stdio:'ignore'});},200);`],
  { stdio: 'ignore' },
);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const results = new Map<string, number[]>();
try {
  for (let r = 0; r < rounds; r++) {
    // Mirrored order: A B, B A, A B, …
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const bpf = side.loader.BpfProfiler.start({ frequencyHz: 19, stackMapSize: 1024, countsMapSize: 1024, unwind: true });
      const cpuUs: number[] = [];
      let counting = false;
      const unwinding = side.unwind.startUnwinding(bpf, { onPoll: (cpuSeconds: number) => counting && cpuUs.push(cpuSeconds * 1e6) });
      await new Promise((res) => setTimeout(res, SETTLE_S * 1000));
      const loads0 = unwinding.stats().loads;
      counting = true;
      await new Promise((res) => setTimeout(res, seconds * 1000));
      counting = false;
      const loads = unwinding.stats().loads - loads0;
      unwinding.stop();
      bpf.close();
      const m = median(cpuUs);
      (results.get(side.name) ?? results.set(side.name, []).get(side.name)!).push(m);
      console.log(`round ${r + 1}, ${side.name}: ${cpuUs.length} polls, median ${m.toFixed(0)} µs CPU, mean ${(cpuUs.reduce((a, b) => a + b, 0) / cpuUs.length).toFixed(0)} µs, ${loads} processes loaded; 1-min load ${loadavg()[0]!.toFixed(1)}`);
    }
  }
} finally {
  churn.kill();
}
for (const [name, ms] of results) console.log(`${name}: median of the rounds' medians ${median(ms).toFixed(0)} µs (${ms.map((x) => x.toFixed(0)).join(' · ')})`);
