import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { accountOf, foldedForPid, profileWorkload, shareUnder, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

const BURN_JS = fileURLToPath(new URL('./fixtures/burn.js', import.meta.url));

describe('proof: a Node process started with --perf-basic-prof (real eBPF agent, real server)', () => {
  // 8 s of the process's own CPU (about 4 000 samples at 499 Hz), however long a busy machine takes to give them.
  it('names the JS functions and splits their CPU 70/30', { timeout: 300_000 }, async () => {
    requireBpf();
    server = await startTestServer();
    const workload = await profileWorkload(server.url, process.execPath, ['--perf-basic-prof', BURN_JS, '--cpu', '8']);

    const folded = await foldedForPid(server.url, workload.pid);
    expect(folded.size, `the server has no profile for the node pid; ${workload.losses}`).toBeGreaterThan(0);
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
    expect(workload.reportedCpuSeconds(), 'burn.js --cpu printed no cpu_seconds').toBeGreaterThanOrEqual(8);
    expect(totalSeconds(folded) / workload.cpuSeconds(), accountOf(folded, workload, workload.losses)).toBeGreaterThan(0.85);
  });
});
