import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { accountOf, compileFixture, CPU, folded, profileWorkload, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('proof: a process is named after itself, not after the thread that was sampled (real eBPF agent, real server)', () => {
  it('labels a process whose only busy threads renamed themselves with its own comm and service_name', { timeout: 180_000 }, async () => {
    requireBpf();
    // The binary's name is what /proc/PID/comm and the executable say; its busy threads say "kiln-worker".
    const bin = compileFixture('threads.c', 'idproc', ['-O1']);
    server = await startTestServer();
    // 1 s of CPU (both workers together, however long a busy machine takes to give it) with 2 s intervals:
    // its last samples are read after it has exited, when /proc no longer answers for it — the case where
    // a thread's name used to leak into the labels.
    const workload = await profileWorkload(server.url, bin, ['--cpu', '1']);

    const all = await folded(server.url, `${CPU}{pid="${workload.pid}"}`);
    expect(all.size, `the server has no profile for the workload pid; ${workload.losses}`).toBeGreaterThan(0);
    const named = await folded(server.url, `${CPU}{pid="${workload.pid}", comm="idproc", service_name="idproc"}`);
    const byThread = await folded(server.url, `${CPU}{pid="${workload.pid}", comm="kiln-worker"}`);
    expect(byThread.size, 'samples labelled with the worker thread\'s name').toBe(0);
    expect(totalSeconds(named), 'CPU under comm="idproc", service_name="idproc"').toBeCloseTo(totalSeconds(all), 6);
    // Both workers burn 1 s of CPU together.
    expect(workload.reportedCpuSeconds(), 'threads --cpu printed no cpu_seconds').toBeGreaterThanOrEqual(1);
    expect(totalSeconds(named), accountOf(named, workload, workload.losses)).toBeGreaterThan(0.3);
  });
});
