/**
 * Where the agent's own cost goes: the agent in this process for a 60 s window after 15 s of warm-up,
 * either complete (`full`: real symbolizer and metadata labeler) or with stand-ins (`pipeline`: frames
 * kept as addresses, comm/pid labels) so the difference is the cost of symbolizing and labelling.
 *
 *   sudo npx tsx bench/agent-pipeline.ts full|pipeline [seconds=60]
 *
 * Runs under tsx, whose loader adds ≈ 35 MiB RSS to both modes; compare the modes with each other and
 * use bench/agent-overhead.ts (compiled agent) for absolute figures.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { startAgent, type AgentParts } from '../src/agent/agent.js';
import { resolveConfig } from '../src/agent/config.js';
import type { ProcessLabeler, Symbolizer } from '../src/agent/types.js';
import { labelsFrom } from '../src/model/index.js';

const mode = process.argv[2] ?? 'full';
const seconds = Number(process.argv[3] ?? 60);
if (mode !== 'full' && mode !== 'pipeline') throw new Error('usage: agent-pipeline.ts full|pipeline [seconds]');

const addressesOnly: Symbolizer = {
  observe: () => undefined,
  symbolize: (_pid, user, kernel, b) => [...kernel, ...user].map((a) => b.location(b.mapping('[unknown]'), a, [])),
  stats: () => ({ frames: 0, symbolized: 0 }),
};
const commOnly: ProcessLabeler = { labels: (pid, comm) => labelsFrom({ service_name: comm, comm, pid: String(pid) }) };
const parts: AgentParts = mode === 'pipeline' ? { symbolizer: addressesOnly, labeler: commOnly, log: () => undefined } : { log: () => undefined };

const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const agent = await startAgent(resolveConfig({}, { server: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, metricsPort: '-1' }), parts);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await sleep(15_000);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let peak = 0;
for (let s = 0; s < seconds; s++) {
  await sleep(1000);
  peak = Math.max(peak, process.memoryUsage.rss());
}
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
const mem = process.memoryUsage();
// The agent's own Histogram (metrics-registry.ts) has no prom-client get(): read its exposition.
const sumOf = async (h: typeof agent.metrics.intervalDuration) => {
  const text = h.exposition();
  const value = (suffix: string) => Number(new RegExp(`^${h.name}${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('_sum'), count: value('_count') };
};
const interval = await sumOf(agent.metrics.intervalDuration);
const exported = await sumOf(agent.metrics.exportDuration);
await agent.stop();
sink.close();
const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
console.log(
  `| ${mode} | ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(2)} % | ${(interval.sum * 1000 / Math.max(1, interval.count)).toFixed(1)} ms | ` +
    `${(exported.sum * 1000 / Math.max(1, exported.count)).toFixed(1)} ms | ${mib(mem.rss)} | ${mib(peak)} | ${mib(mem.heapUsed)} | ${mib(mem.external)} | ${loadavg()[0]!.toFixed(1)} |`,
);
