import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfProfiler, STACK_CLASSES } from '../../src/agent/loader.js';
import { Sampler } from '../../src/agent/sampler.js';
import { requireBpf, requireCommand } from './require-bpf.js';

const fixture = fileURLToPath(new URL('./fixtures/recurse.c', import.meta.url));

/**
 * The BPF program stores each stack in the map of its size class (32 or 128 words). Four processes
 * recurse 5, 20, 30 and 100 calls deep (frame pointers, so the walk needs no tables): two land in each
 * class (the 30-deep one, 33 frames or more, just past the small one), and each must come back
 * whole — the recursive call's return address exactly `depth` times.
 */
describe('stored stacks by size class (real eBPF, root)', () => {
  it('reads back stacks of every size class whole', async () => {
    requireBpf();
    requireCommand('clang', 'clang');
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-stack-classes-'));
    const bin = path.join(dir, 'recurse');
    execFileSync('clang', ['-O1', '-fno-omit-frame-pointer', '-fno-optimize-sibling-calls', fixture, '-o', bin]);
    const depths = [5, 20, 30, 100];
    const procs: ChildProcess[] = depths.map((d) => spawn(bin, [String(d)], { stdio: 'ignore' }));
    const bpf = BpfProfiler.start({ frequencyHz: 99, stackMapSize: 4096, countsMapSize: 4096 });
    try {
      expect(STACK_CLASSES).toEqual([32, 128]);
      const sampler = new Sampler(bpf);
      await new Promise((r) => setTimeout(r, 3000));
      const { samples } = await sampler.collect();
      depths.forEach((depth, i) => {
        const mine = samples.filter((s) => s.pid === procs[i]!.pid && s.kernelAddrs.length === 0);
        expect(mine.length, `no user-mode samples of the process ${depth} calls deep`).toBeGreaterThan(0);
        // Its busiest stack: burn's loop under `depth` recursive frames.
        const top = mine.reduce((a, b) => (b.count > a.count ? b : a));
        const seen = new Map<bigint, number>();
        for (const a of top.userAddrs) seen.set(a, (seen.get(a) ?? 0) + 1);
        const repeated = Math.max(...seen.values());
        expect(repeated, `the recursive return address in a stack ${depth} calls deep (${top.userAddrs.length} frames)`).toBe(depth);
        expect(top.userAddrs.length).toBeGreaterThanOrEqual(depth + 3); // burn, recurse(0), main
      });
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      bpf.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
