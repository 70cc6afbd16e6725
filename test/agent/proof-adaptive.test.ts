import { afterAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../src/agent/agent.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { accountOf, compileBurn, compileFixture, foldedForPid, keepOnly, lossReport, run, testConfig, totalSeconds } from './proof-support.js';
import { requireBpf, requireCommand } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('proof: --adaptive moves the sample budget toward a process whose profile changes (real eBPF agent, real server)', () => {
  it('keeps more of the changing process\'s samples than the stable one\'s, and both stay in true CPU time', { timeout: 120_000 }, async () => {
    requireBpf();
    requireCommand('chrt', 'util-linux');
    const stableBin = compileBurn();
    const changingBin = compileFixture('phases.c', 'phases', ['-O0', '-fno-omit-frame-pointer']);
    server = await startTestServer();
    let pids: number[] = [];
    // The budget is samples per second, so what the two processes make per second must not depend on how
    // busy the machine is: each is busy a quarter of every 100 ms (--duty 0.25) at a real-time priority
    // (chrt -f: ahead of every ordinary process, however many), so each makes ~125 samples/s at 499 Hz
    // on any load. A budget of 40 samples/s is far less than the two make.
    const agent = await startAgent(testConfig(server.url, { adaptive: true, adaptiveBudget: 40 }), { labeler: keepOnly(() => pids) });
    const rates: { stable: number; changing: number }[] = [];
    let stable, changing;
    try {
      stable = run('chrt', ['-f', '1', stableBin, '--duty', '0.25', '24']);
      changing = run('chrt', ['-f', '1', changingBin, '--duty', '0.25', '24', '2.7']);
      pids = [stable.pid, changing.pid];
      const done = Promise.all([stable.exited, changing.exited]);
      let finished = false;
      void done.then(() => (finished = true));
      // An interval that ends after either process has exited says nothing of its rate (a process the agent
      // no longer follows reads the full 499 Hz): only intervals both ran through are kept.
      let oneExited = false;
      void Promise.race([stable.exited, changing.exited]).then(() => (oneExited = true));
      while (!finished) {
        await agent.nextInterval();
        if (!oneExited) rates.push({ stable: agent.effectiveRate(stable.pid), changing: agent.effectiveRate(changing.pid) });
      }
    } finally {
      await agent.stop(30_000);
    }
    const losses = await lossReport(agent);
    // Steady state: after the first few intervals (new processes start at the full rate).
    const late = rates.slice(4);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const stableHz = mean(late.map((r) => r.stable));
    const changingHz = mean(late.map((r) => r.changing));
    console.log(`proof-adaptive: effective rate stable ${stableHz.toFixed(0)} Hz, changing ${changingHz.toFixed(0)} Hz (of 499)`);
    const perInterval = rates.map((r) => `${r.stable.toFixed(0)}/${r.changing.toFixed(0)}`).join(' ');
    const used = `CPU used: stable ${stable.cpuSeconds().toFixed(2)} s, changing ${changing.cpuSeconds().toFixed(2)} s in ${stable.wallSeconds().toFixed(1)} s; rates by interval (stable/changing Hz): ${perInterval}; ${losses}`;
    expect(late.length, 'too few intervals ran').toBeGreaterThan(3);
    expect(changingHz, `the changing process keeps a higher rate; ${used}`).toBeGreaterThan(stableHz * 1.5);
    expect(stableHz, `the stable one gave up part of its rate; ${used}`).toBeLessThan(499 * 0.8);

    // Values are divided by the share kept: each process's total is still the CPU it used.
    for (const w of [stable, changing]) {
      const folded = await foldedForPid(server.url, w.pid);
      const ratio = totalSeconds(folded) / w.cpuSeconds();
      console.log(`proof-adaptive: ${w === stable ? 'stable' : 'changing'} ${accountOf(folded, w)}`);
      expect(w.reportedCpuSeconds(), 'the workload (--duty) printed no cpu_seconds').toBeDefined();
      expect(w.cpuSeconds(), `the workload got almost no CPU on this machine; ${used}`).toBeGreaterThan(2);
      expect(ratio, `reported CPU / used CPU for pid ${w.pid}: ${accountOf(folded, w, losses)}`).toBeGreaterThan(0.75);
      expect(ratio, accountOf(folded, w, losses)).toBeLessThan(1.25);
    }
  });
});
