import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { onlineCpus } from '../../src/agent/bpf/perf-event.js';
import { BpfProfiler, missingCapabilities } from '../../src/agent/loader.js';
import { Sampler } from '../../src/agent/sampler.js';
import { requireBpf } from './require-bpf.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('BPF loader and sampler (real eBPF, root)', () => {
  it('samples a busy process with its user stack, clears each generation after reading, and detaches fully', async () => {
    requireBpf();
    const fdsBefore = openFds();
    const bpf = BpfProfiler.start({ frequencyHz: 99, stackMapSize: 4096, countsMapSize: 4096 });
    const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 60000; while (Date.now() < end) {}'], { stdio: 'ignore' });
    try {
      expect(bpf.cpus).toEqual(onlineCpus());
      const sampler = new Sampler(bpf);
      await new Promise((r) => setTimeout(r, 1500));
      const first = await sampler.collect();
      const mine = first.samples.filter((s) => s.pid === busy.pid);
      expect(mine.length, `no samples of the busy child ${busy.pid}`).toBeGreaterThan(0);
      expect(mine.reduce((n, s) => n + s.count, 0)).toBeGreaterThan(10);
      expect(mine.some((s) => s.userAddrs.length >= 2), 'user stacks of a node process should walk (JIT frames have frame pointers)').toBe(true);
      expect(mine[0]!.comm).toBe('node');
      expect(first.counterDeltas.samples).toBeGreaterThan(0);

      // Every sample the program kept is counted once: the counts of an interval add up to its samples,
      // less idle and dropped ones (± the few taken between reading the counters and the flip).
      await new Promise((r) => setTimeout(r, 1500));
      const second = await sampler.collect();
      const d = second.counterDeltas;
      const kept = d.samples - d.idle - d.counts_full - d.stacks_full - d.stack_error - d.adaptive_skipped;
      const counted = second.samples.filter((s) => s.kind === 'cpu').reduce((n, s) => n + s.count, 0);
      expect(kept).toBeGreaterThan(50);
      expect(Math.abs(counted - kept), `counted ${counted} of ${kept} kept samples`).toBeLessThanOrEqual(Math.max(3, kept * 0.03));

      busy.kill('SIGKILL');
      await new Promise((r) => busy.once('exit', r));
      await sampler.collect(); // the generation written while the child died
      const later = await sampler.collect();
      expect(later.samples.filter((s) => s.pid === busy.pid), 'samples read once must not come back').toEqual([]);
    } finally {
      busy.kill('SIGKILL');
      bpf.close();
    }
    expect(openFds(), 'every perf event and map fd is closed after detach').toBe(fdsBefore);
  });

  it('gives a sample taken in the kernel its kernel stack and the user stack it came from; one taken in user mode no kernel stack', async () => {
    requireBpf();
    const bpf = BpfProfiler.start({ frequencyHz: 99, stackMapSize: 4096, countsMapSize: 4096 });
    // dd copies zeroes through the kernel (most of its time in read/write); node spins in user mode.
    const inKernel = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1M', 'count=1000000'], { stdio: 'ignore' });
    const inUser = spawn(process.execPath, ['-e', 'const end = Date.now() + 60000; while (Date.now() < end) {}'], { stdio: 'ignore' });
    try {
      const sampler = new Sampler(bpf);
      await new Promise((r) => setTimeout(r, 2000));
      const { samples } = await sampler.collect();
      const dd = samples.filter((s) => s.pid === inKernel.pid);
      const withKernel = dd.filter((s) => s.kernelAddrs.length > 0);
      expect(withKernel.length, `dd (${inKernel.pid}) was sampled in the kernel`).toBeGreaterThan(0);
      for (const s of withKernel) {
        expect(s.kernelAddrs.every((a) => a >= 0xffff800000000000n), 'kernel frames are kernel addresses').toBe(true);
        expect(s.userAddrs.length, 'the user stack under a kernel-mode sample is walked from the task\'s saved registers').toBeGreaterThan(0);
        expect(s.userAddrs.every((a) => a > 0n && a < 1n << 47n)).toBe(true);
      }
      const spin = samples.filter((s) => s.pid === inUser.pid);
      const spinCount = spin.reduce((n, s) => n + s.count, 0);
      const spinUserOnly = spin.filter((s) => s.kernelAddrs.length === 0).reduce((n, s) => n + s.count, 0);
      expect(spinCount).toBeGreaterThan(10);
      expect(spinUserOnly / spinCount, 'a user-mode spin is mostly sampled in user mode, without a kernel stack').toBeGreaterThan(0.8);
      // Without unwind tables a leaf in code without frame pointers stops at one frame (a few percent of them).
      const walked = spin.filter((s) => s.kernelAddrs.length === 0 && s.userAddrs.length >= 2).reduce((n, s) => n + s.count, 0);
      expect(walked / spinUserOnly, 'user-mode samples walk from the sample\'s own registers through the JIT frames').toBeGreaterThan(0.7);
    } finally {
      inKernel.kill('SIGKILL');
      inUser.kill('SIGKILL');
      bpf.close();
    }
  });

  it('names the missing capabilities when not privileged', () => {
    // CapEff with only CAP_PERFMON (bit 38): CAP_BPF is what is missing.
    expect(missingCapabilities('Name:\tx\nCapEff:\t0000004000000000\n')).toEqual(['CAP_BPF']);
    expect(missingCapabilities('CapEff:\t0000000000000000\n')).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(missingCapabilities('CapEff:\t000001ffffffffff\n')).toEqual([]);
  });

  it('parses sysfs CPU lists', () => {
    expect(onlineCpus('0-3,6,8-9\n')).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(onlineCpus('0\n')).toEqual([0]);
  });
});
