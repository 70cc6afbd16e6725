import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { compileBurn, foldedForPid, run, shareUnder, testConfig, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop(1000);
  await server?.close();
});

describe('proof: a native program with a known 70/30 split (real eBPF agent, real server)', () => {
  it('shows main → burn_a ≈ 70 % and main → burn_b ≈ 30 % through the query API', { timeout: 90_000 }, async () => {
    requireBpf();
    const burn = compileBurn();
    server = await startTestServer();
    agent = await startAgent(testConfig(server.url));
    const workload = run(burn, ['22']);
    expect(await workload.exited).toBe(0);
    await agent.stop(10_000);
    agent = undefined;

    const folded = await foldedForPid(server.url, workload.pid);
    expect(folded.size, 'the server has no profile for the workload pid').toBeGreaterThan(0);
    const a = shareUnder(folded, 'burn_a', 'main');
    const b = shareUnder(folded, 'burn_b', 'main');
    expect(a.calledFromCaller, `no main;burn_a stack in ${[...folded.keys()].slice(0, 5).join(' | ')}`).toBe(true);
    expect(b.calledFromCaller, 'no main;burn_b stack').toBe(true);
    expect(Math.abs(a.percent - 70), `burn_a ${a.percent.toFixed(1)} %`).toBeLessThanOrEqual(5);
    expect(Math.abs(b.percent - 30), `burn_b ${b.percent.toFixed(1)} %`).toBeLessThanOrEqual(5);
    // The CPU the agent reports is the CPU the process used (the kernel's own account), within 15 %.
    const used = workload.cpuSeconds();
    expect(used, 'the workload got almost no CPU on this machine').toBeGreaterThan(3);
    expect(totalSeconds(folded) / used).toBeGreaterThan(0.85);
    expect(totalSeconds(folded) / used).toBeLessThan(1.15);
  });
});
