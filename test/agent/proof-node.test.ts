import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { foldedForPid, keepOnly, run, shareUnder, testConfig, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop(1000);
  await server?.close();
});

const BURN_JS = fileURLToPath(new URL('./fixtures/burn.js', import.meta.url));

describe('proof: a Node process started with --perf-basic-prof (real eBPF agent, real server)', () => {
  it('names the JS functions and splits their CPU 70/30', { timeout: 90_000 }, async () => {
    requireBpf();
    server = await startTestServer();
    let pids: number[] = [];
    agent = await startAgent(testConfig(server.url), { labeler: keepOnly(() => pids) });
    const workload = run(process.execPath, ['--perf-basic-prof', BURN_JS, '22']);
    pids = [workload.pid];
    expect(await workload.exited).toBe(0);
    await agent.stop(10_000);
    agent = undefined;

    const folded = await foldedForPid(server.url, workload.pid);
    expect(folded.size, 'the server has no profile for the node pid').toBeGreaterThan(0);
    const names = [...folded.keys()].flatMap((s) => s.split(';'));
    const jsA = names.find((n) => /\bjsBurnA\b/.test(n));
    const jsB = names.find((n) => /\bjsBurnB\b/.test(n));
    const top = [...folded].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, v]) => `${(v / 1e9).toFixed(2)}s ${k.slice(-200)}`);
    expect(jsA, `no frame named jsBurnA; heaviest stacks:\n${top.join("\n")}`).toBeDefined();
    expect(jsB, 'no frame named jsBurnB').toBeDefined();
    const a = shareUnder(folded, /\bjsBurnA\b/);
    const b = shareUnder(folded, /\bjsBurnB\b/);
    const split = (100 * a.percent) / (a.percent + b.percent);
    expect(Math.abs(split - 70), `jsBurnA has ${split.toFixed(1)} % of the two functions' CPU`).toBeLessThanOrEqual(5);
    // Most of the process's CPU is in the two functions (start-up, GC and exit are the rest).
    expect(a.percent + b.percent, 'share of the process CPU under jsBurnA / jsBurnB').toBeGreaterThan(60);
    expect(totalSeconds(folded) / workload.cpuSeconds()).toBeGreaterThan(0.85);
  });
});
