import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { processCpuSeconds, stageClock, threadCpuSeconds } from '../../src/agent/process-cpu.js';

/** A worker thread burns 150 ms of the process's CPU; this thread only waits for its message. */
async function burnInWorker(): Promise<void> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const c0 = process.cpuUsage(); let x = 0; const end = Date.now() + 20000;
     while (Date.now() < end) { const c = process.cpuUsage(c0); if (c.user + c.system > 150000) break; for (let i = 0; i < 10000; i++) x += Math.sqrt(i); }
     parentPort.postMessage(x);`,
    { eval: true },
  );
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
}

describe('threadCpuSeconds', () => {
  it("counts the main thread's own work", () => {
    const t0 = threadCpuSeconds();
    const p0 = processCpuSeconds();
    const deadline = Date.now() + 20_000;
    let x = 0;
    // Burn until the thread itself has run 50 ms (however busy the host is).
    while (threadCpuSeconds() - t0 < 0.05 && Date.now() < deadline) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
    const thread = threadCpuSeconds() - t0;
    const proc = processCpuSeconds() - p0;
    expect(x).toBeGreaterThan(0);
    expect(thread).toBeGreaterThanOrEqual(0.05);
    // The process's clock counts this thread too (a tick's rounding aside).
    expect(proc).toBeGreaterThanOrEqual(thread - 0.011);
  });

  it('counts a stretch of work shorter than a scheduler tick in full, right after a wake-up', async () => {
    // The agent's stages and polls each run a fraction of a millisecond after the thread wakes. A clock
    // that answers as of the thread's last scheduler update (/proc/thread-self/schedstat) read such a
    // 1 ms stretch as a third of it; the process's clock (getrusage, brought up to date) is the reference.
    const ratios: number[] = [];
    let x = 0;
    for (let round = 0; round < 15; round++) {
      await new Promise((r) => setTimeout(r, 10));
      const p0 = processCpuSeconds();
      const t0 = threadCpuSeconds();
      // 1 ms by the wall clock, with no system call inside (asking the kernel for a CPU clock brings the
      // thread's figure up to date, which would hide the stale reading this test is about).
      const end = performance.now() + 1;
      while (performance.now() < end) for (let i = 0; i < 100; i++) x += Math.sqrt(i);
      const thread = threadCpuSeconds() - t0;
      const proc = processCpuSeconds() - p0;
      if (proc > 0) ratios.push(thread / proc);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    expect(x).toBeGreaterThan(0);
    expect(median, `thread / process CPU of 1 ms stretches (all: ${ratios.map((r) => r.toFixed(2)).join(', ')})`).toBeGreaterThan(0.8);
  });

  it('leaves out what another thread runs meanwhile', async () => {
    const t0 = threadCpuSeconds();
    const p0 = processCpuSeconds();
    // A worker burns 150 ms of the process's CPU while this thread only waits for its message.
    await burnInWorker();
    const thread = threadCpuSeconds() - t0;
    const proc = processCpuSeconds() - p0;
    expect(proc).toBeGreaterThanOrEqual(0.15);
    // Starting a worker costs this thread some CPU, far less than the worker's burn.
    expect(thread).toBeLessThan(proc / 2);
  });
});

describe('stageClock', () => {
  it("records a stage's main-thread CPU, not what another thread burns meanwhile", async () => {
    const recorded: [string, number][] = [];
    const stage = stageClock((name, seconds) => recorded.push([name, seconds]));
    const p0 = processCpuSeconds();
    // While the "wait" stage runs, a worker burns 150 ms of the process's CPU; this thread only waits.
    await burnInWorker();
    stage('wait');
    // Then this thread burns 50 ms of its own in the "burn" stage.
    const t0 = threadCpuSeconds();
    const deadline = Date.now() + 20_000;
    let x = 0;
    while (threadCpuSeconds() - t0 < 0.05 && Date.now() < deadline) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
    stage('burn');
    const proc = processCpuSeconds() - p0;
    expect(x).toBeGreaterThan(0);
    expect(recorded.map(([name]) => name)).toEqual(['wait', 'burn']);
    const [[, wait], [, burn]] = recorded as [[string, number], [string, number]];
    expect(proc).toBeGreaterThanOrEqual(0.2);
    // Starting a worker costs this thread some CPU, far less than the worker's burn.
    expect(wait).toBeLessThan(0.1);
    expect(burn).toBeGreaterThanOrEqual(0.05);
    expect(burn).toBeLessThan(proc);
  });
});
