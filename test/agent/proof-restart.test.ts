import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { openStore, type Store } from '../../src/store/index.js';
import { accountOf, compileBurn, foldedForPid, keepOnly, lossReport, run, testConfig, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

/** A real server on a fixed port and data dir, so it can be stopped and started again where the agent expects it. */
async function serverAt(dataDir: string, port: number): Promise<{ server: RunningServer; store: Store; stop(): Promise<void> }> {
  const store = await openStore(dataDir, { threads: 2 });
  const server = await startServer({ store, host: '127.0.0.1', port });
  return {
    server,
    store,
    async stop() {
      await server.close();
      await store.close();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('proof: the agent buffers while the server is down and delivers after it restarts', () => {
  it('stores the profiles of the downtime once the server is back on the same data dir', { timeout: 120_000 }, async () => {
    requireBpf();
    const burn = compileBurn();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'kiln-restart-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    let live = await serverAt(dataDir, 0);
    const port = live.server.port;
    cleanups.push(() => live.stop());

    let pids: number[] = [];
    const agent: RunningAgent = await startAgent(testConfig(live.server.url), { labeler: keepOnly(() => pids) });
    cleanups.push(() => agent.stop(1000));
    // 26 s of wall time (it must outlive the downtime), busy throughout (--duty 1), printing the CPU time
    // it used as it ends: what the stored total is compared with, exactly, however busy the machine.
    const workload = run(burn, ['--duty', '1', '26']);
    pids = [workload.pid];

    await agent.nextInterval();
    await agent.nextInterval();
    await live.stop();
    const downFrom = Date.now();
    await sleep(8000);
    expect(workload.child.exitCode, 'the workload must outlive the downtime').toBeNull();
    const queued = await agent.metrics.queueLength.get();
    expect(queued.values[0]!.value, 'requests waiting while the server is down').toBeGreaterThan(0);
    const retries = (await agent.metrics.exportErrors.get()).values.find((v) => v.labels.kind === 'retry');
    expect(retries?.value ?? 0, 'the agent noticed the server was down').toBeGreaterThan(0);

    live = await serverAt(dataDir, port);
    const downUntil = Date.now();
    expect(await workload.exited).toBe(0);
    await agent.stop(30_000);
    expect((await agent.metrics.queueDropped.get()).values[0]!.value, 'nothing dropped: the queue is big enough for 8 s').toBe(0);

    // Profiles whose interval started while the server was down reached it after the restart.
    const during = await foldedForPid(live.server.url, workload.pid, { from: downFrom, until: downUntil });
    expect(totalSeconds(during), 'CPU recorded for the downtime').toBeGreaterThan(0);
    expect([...during.keys()].some((k) => k.endsWith('main;burn_a')), 'the downtime profiles are symbolized stacks').toBe(true);
    // And across the whole run nothing was lost: what was stored is the CPU the process used.
    const all = await foldedForPid(live.server.url, workload.pid);
    expect(workload.reportedCpuSeconds(), 'burn --duty printed no cpu_seconds').toBeDefined();
    const account = accountOf(all, workload, await lossReport(agent));
    expect(totalSeconds(all) / workload.cpuSeconds(), account).toBeGreaterThan(0.85);
    expect(totalSeconds(all) / workload.cpuSeconds(), account).toBeLessThan(1.15);
  });
});
