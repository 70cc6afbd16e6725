/**
 * Kernel-side cost of reading stored stacks out of the BPF stacks maps, by size class: `n` stacks are
 * written into one class map from user space, then read and deleted with the sampler's own batch drain,
 * 21 times; the median CPU (user + system of this process) per drain and per stack. No sampling load:
 * the program is attached at 1 Hz only so its maps exist.
 *
 *   sudo npx tsx bench/stack-drain.ts [n=200,2000]
 */
import { drainMap } from '../src/agent/bpf/drain.js';
import { BpfProfiler } from '../src/agent/loader.js';

const counts = (process.argv[2] ?? '200,2000').split(',').map(Number);
if (process.getuid?.() !== 0) throw new Error('run as root: loading BPF needs it');
const ROUNDS = 21;
const READ_BYTES = 1 << 20;
const bpf = BpfProfiler.start({ frequencyHz: 1, stackMapSize: 16384, countsMapSize: 1024 });
try {
  const g = bpf.generations[1];
  const keys = Buffer.alloc(4096 * 8);
  const values = Buffer.alloc(READ_BYTES);
  const key = Buffer.alloc(8);
  for (const n of counts) {
    for (const m of g.stacks) {
      const value = Buffer.alloc(m.words * 8);
      value.writeBigUInt64LE(20n); // a frame count; the frames themselves do not matter here
      const cpu: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < n; i++) {
          key.writeBigUInt64LE(BigInt(i * 7919 + r * 1000003 + 2));
          if (bpf.lib.mapUpdateElem(m.fd, key, value, 0) < 0) throw new Error(`writing stack ${i} into the ${m.words}-word map failed`);
        }
        const c0 = process.cpuUsage();
        let rows = 0;
        drainMap(bpf.lib, m.fd, { key: 8, value: m.words * 8, batch: Math.min(4096, READ_BYTES / (m.words * 8)) }, keys, values, () => rows++);
        const c = process.cpuUsage(c0);
        if (rows !== n) throw new Error(`read ${rows} of ${n} stacks`);
        cpu.push(c.user + c.system);
      }
      const median = [...cpu].sort((a, b) => a - b)[ROUNDS >> 1]!;
      console.log(`${n} stacks of ${m.words} words: drain ${median} µs CPU, ${(median / n).toFixed(2)} µs per stack (median of ${ROUNDS})`);
    }
  }
} finally {
  bpf.close();
}
process.exit(0);
