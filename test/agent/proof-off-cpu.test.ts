import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OFF_CPU_TYPE } from '../../src/agent/exporter-profiles.js';
import { profileTypeId } from '../../src/model/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { compileFixture, foldedForPid, profileWorkload, shareUnder, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

const OFF_CPU = profileTypeId(OFF_CPU_TYPE);

describe('proof: off-CPU time of a program blocked 70 % of the time (real eBPF agent with --off-cpu, real server)', () => {
  it('holds ≈ 70 % of the wall time under wait_for_io, in off_cpu:nanoseconds', { timeout: 90_000 }, async () => {
    requireBpf();
    const bin = compileFixture('sleeper.c', 'sleeper', ['-O2', '-fomit-frame-pointer', '-g']);
    server = await startTestServer();
    const truthFile = path.join(path.dirname(bin), 'waited');
    const workload = await profileWorkload(server.url, bin, ['12', truthFile], { offCpu: true });
    // What the program itself measured around its sleeps (wake-up latency included).
    const [waited, elapsed] = readFileSync(truthFile, 'utf8').trim().split(' ').map(Number) as [number, number];

    const folded = await foldedForPid(server.url, workload.pid, undefined, OFF_CPU);
    expect(folded.size, 'the server has no off-CPU profile for the workload pid').toBeGreaterThan(0);
    const wall = workload.wallSeconds();
    const under = shareUnder(folded, 'wait_for_io', 'main');
    const top = [...folded].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([k, v]) => `${(v / 1e9).toFixed(2)}s ${k}`);
    expect(under.calledFromCaller, `no main;wait_for_io stack; heaviest:\n${top.join('\n')}`).toBe(true);
    const blockedInWait = (under.percent / 100) * totalSeconds(folded);
    const percentOfWall = (100 * blockedInWait) / wall;
    console.log(
      `proof-off-cpu: wait_for_io holds ${percentOfWall.toFixed(1)} % of ${wall.toFixed(1)} s wall time (${blockedInWait.toFixed(2)} s off-CPU; ` +
        `the program measured ${waited.toFixed(2)} s of ${elapsed.toFixed(2)} s in it)\n${top.join('\n')}`,
    );
    expect(Math.abs(percentOfWall - 70), `wait_for_io holds ${percentOfWall.toFixed(1)} % of ${wall.toFixed(1)} s wall time; heaviest:\n${top.join('\n')}`).toBeLessThanOrEqual(10);
    // And the profile's time is the time the program really spent there, within 10 %.
    expect(blockedInWait / waited, 'off-CPU seconds under wait_for_io / seconds the program measured in it').toBeGreaterThan(0.9);
    expect(blockedInWait / waited).toBeLessThan(1.1);
  });
});
