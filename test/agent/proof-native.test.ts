import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { accountOf, compileBurn, foldedForPid, profileWorkload, shareUnder, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('proof: a native program with a known 70/30 split (real eBPF agent, real server)', () => {
  // 8 s of the process's own CPU (about 4 000 samples at 499 Hz), however long a busy machine takes to give them.
  it('shows main → burn_a ≈ 70 % and main → burn_b ≈ 30 % through the query API', { timeout: 300_000 }, async () => {
    requireBpf();
    const burn = compileBurn();
    server = await startTestServer();
    const workload = await profileWorkload(server.url, burn, ['--cpu', '8']);

    const folded = await foldedForPid(server.url, workload.pid);
    expect(folded.size, `the server has no profile for the workload pid; ${workload.losses}`).toBeGreaterThan(0);
    const a = shareUnder(folded, 'burn_a', 'main');
    const b = shareUnder(folded, 'burn_b', 'main');
    expect(a.calledFromCaller, `no main;burn_a stack in ${[...folded.keys()].slice(0, 5).join(' | ')}`).toBe(true);
    expect(b.calledFromCaller, 'no main;burn_b stack').toBe(true);
    // The split between the two functions is what the program does: 70/30.
    const split = (100 * a.percent) / (a.percent + b.percent);
    expect(Math.abs(split - 70), `burn_a has ${split.toFixed(1)} % of the two functions' CPU`).toBeLessThanOrEqual(5);
    // And nearly all of the process's CPU is attributed to them (the rest: start-up, exit).
    expect(a.percent + b.percent, 'share of the process CPU under main → burn_a / burn_b').toBeGreaterThan(75);
    // The CPU the agent reports is the CPU the process used (the kernel's own account), within 15 %.
    const used = workload.cpuSeconds();
    expect(workload.reportedCpuSeconds(), 'burn --cpu printed no cpu_seconds').toBeGreaterThanOrEqual(8);
    const account = accountOf(folded, workload, workload.losses);
    expect(totalSeconds(folded) / used, account).toBeGreaterThan(0.85);
    expect(totalSeconds(folded) / used, account).toBeLessThan(1.15);
  });
});
