import { afterAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../src/agent/agent.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { compileBurn, compileFixture, foldedForPid, keepOnly, run, testConfig, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('proof: --adaptive moves the sample budget toward a process whose profile changes (real eBPF agent, real server)', () => {
  it('keeps more of the changing process\'s samples than the stable one\'s, and both stay in true CPU time', { timeout: 120_000 }, async () => {
    requireBpf();
    const stableBin = compileBurn();
    const changingBin = compileFixture('phases.c', 'phases', ['-O0', '-fno-omit-frame-pointer']);
    server = await startTestServer();
    let pids: number[] = [];
    // 499 Hz on every CPU, a budget of 150 samples/s: far less than two busy processes make.
    const agent = await startAgent(testConfig(server.url, { adaptive: true, adaptiveBudget: 150 }), { labeler: keepOnly(() => pids) });
    const rates: { stable: number; changing: number }[] = [];
    let stable, changing;
    try {
      stable = run(stableBin, ['24']);
      changing = run(changingBin, ['24', '2.7']);
      pids = [stable.pid, changing.pid];
      const done = Promise.all([stable.exited, changing.exited]);
      let finished = false;
      void done.then(() => (finished = true));
      while (!finished) {
        await agent.nextInterval();
        rates.push({ stable: agent.effectiveRate(stable.pid), changing: agent.effectiveRate(changing.pid) });
      }
    } finally {
      await agent.stop(30_000);
    }
    // Steady state: after the first few intervals (new processes start at the full rate).
    const late = rates.slice(4);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const stableHz = mean(late.map((r) => r.stable));
    const changingHz = mean(late.map((r) => r.changing));
    console.log(`proof-adaptive: effective rate stable ${stableHz.toFixed(0)} Hz, changing ${changingHz.toFixed(0)} Hz (of 499)`);
    expect(late.length, 'too few intervals ran').toBeGreaterThan(3);
    expect(changingHz, 'the changing process keeps a higher rate').toBeGreaterThan(stableHz * 1.5);
    expect(stableHz, 'the stable one gave up part of its rate').toBeLessThan(499 * 0.8);

    // Values are divided by the share kept: each process's total is still the CPU it used.
    for (const w of [stable, changing]) {
      const folded = await foldedForPid(server.url, w.pid);
      const ratio = totalSeconds(folded) / w.cpuSeconds();
      expect(w.cpuSeconds(), 'the workload got almost no CPU on this machine').toBeGreaterThan(2);
      expect(ratio, `reported CPU / used CPU for pid ${w.pid}`).toBeGreaterThan(0.75);
      expect(ratio).toBeLessThan(1.25);
    }
  });
});
