/**
 * The sampler's user-space cost of reading an interval's counts and stacks out of the BPF maps
 * (Sampler.collect: batch lookup-and-delete syscalls and decoding), per row and per stored stack.
 *
 * The load: `procs` processes (test/agent/fixtures/recurse.c in `vary` mode, frame pointers) each
 * recursing to a random depth from 1 to 120 and back, so an interval holds many distinct stacks of
 * every length (every size class of the stacks maps). The BPF program alone (no agent pipeline,
 * no unwind tables: frame pointers are enough here) samples the whole host at `hz`.
 *
 *   sudo npx tsx bench/sampler-read.ts [intervals=20] [hz=99] [procs=6]
 *
 * Prints CPU µs per collect (user + system of this process, the 5 ms flip grace excluded as it is a
 * sleep), rows and frames read. Needs clang and root.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfProfiler } from '../src/agent/loader.js';
import { Sampler } from '../src/agent/sampler.js';

const intervals = Number(process.argv[2] ?? 20);
const hz = Number(process.argv[3] ?? 99);
const nProcs = Number(process.argv[4] ?? 6);
if (process.getuid?.() !== 0) throw new Error('run as root: loading BPF needs it');
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-bench-sampler-'));
const bin = path.join(dir, 'recurse');
execFileSync('clang', ['-O1', '-fno-omit-frame-pointer', '-fno-optimize-sibling-calls', path.join(ROOT, 'test/agent/fixtures/recurse.c'), '-o', bin]);
const procs = Array.from({ length: nProcs }, () => spawn(bin, ['120', 'vary'], { stdio: 'ignore' }));
const bpf = BpfProfiler.start({ frequencyHz: hz, stackMapSize: 16384, countsMapSize: 16384 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const sampler = new Sampler(bpf);
  await sleep(1000);
  await sampler.collect(); // the first interval holds the start-up
  const load0 = loadavg()[0]!;
  const perCollect: number[] = [];
  const perRow: number[] = [];
  const perFrame: number[] = [];
  let rows = 0;
  let frames = 0;
  for (let i = 0; i < intervals; i++) {
    await sleep(1000);
    const c0 = process.cpuUsage();
    const { samples } = await sampler.collect();
    const c = process.cpuUsage(c0);
    const us = c.user + c.system;
    const f = samples.reduce((n, s) => n + s.userAddrs.length + s.kernelAddrs.length, 0);
    perCollect.push(us);
    perRow.push(us / Math.max(1, samples.length));
    perFrame.push(us / Math.max(1, f));
    rows += samples.length;
    frames += f;
  }
  console.log(
    `bench/sampler-read.ts ${intervals} intervals of 1 s at ${hz} Hz, ${nProcs} processes, load ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}: ` +
      `CPU per collect median ${median(perCollect).toFixed(0)} µs, per row ${median(perRow).toFixed(1)} µs, per frame ${median(perFrame).toFixed(3)} µs; ` +
      `${(rows / intervals).toFixed(0)} rows and ${(frames / intervals).toFixed(0)} frames an interval`,
  );
} finally {
  for (const p of procs) p.kill('SIGKILL');
  bpf.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
