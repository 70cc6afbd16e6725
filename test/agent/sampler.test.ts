import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRow, decodeStack, SampledStacks, StackArena, type CountRow } from '../../src/agent/sampler.js';
import { ProcSymbolizer } from '../../src/agent/symbolize/symbolizer.js';
import type { RawSample } from '../../src/agent/types.js';
import { DictionaryBuilder, frameNames } from '../../src/model/index.js';
import { buildProgram, startProgram } from './symbolize/native-program.js';

/**
 * The sampler keeps an interval's stacks as bytes and decodes a sample's addresses only when asked:
 * the samples must be the ones decoding every stack at once gave, and a stack the symbolizer knows
 * must be found without decoding its addresses at all.
 */

/** A batch of stored stack values as the BPF map returns them: frame count, frames, stale words after. */
function storedStacks(words: number, stacks: bigint[][], countOverride?: number[]): Buffer {
  const buf = Buffer.alloc(stacks.length * words * 8, 0xab); // 0xab: stale bytes of earlier stacks
  stacks.forEach((frames, i) => {
    buf.writeBigUInt64LE(BigInt(countOverride?.[i] ?? frames.length), i * words * 8);
    frames.slice(0, words - 1).forEach((a, j) => buf.writeBigUInt64LE(a, i * words * 8 + 8 + j * 8));
  });
  return buf;
}

const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const row = (userStack: bigint, kernelStack: bigint): CountRow => ({ pid: 42, kind: 'cpu', userStack, kernelStack, comm: 'burner', count: 3 });

describe('Sampler stacks, decoded when asked for', () => {
  it('give the addresses, depth and leaf that decoding each stored stack at once gives, in every size class', () => {
    const frames = (n: number, base: bigint) => Array.from({ length: n }, (_, i) => base + BigInt(i * 0x40 + 5));
    const small = [frames(1, 0x5555_0000_0000n), frames(31, 0x7f00_0000_1000n), frames(0, 0n), frames(12, 0xffff_ffff_8100_0000n)];
    const large = [frames(127, 0x5555_1000_0000n), frames(60, 0x7f10_0000_0000n)];
    // A count past the value's room (the kernel never writes one, but the reader must clamp it): 31 frames kept.
    const smallValues = storedStacks(32, small, [1, 31, 0, 12]);
    const largeValues = storedStacks(128, large);
    const clamped = storedStacks(32, [frames(31, 0x1000n), frames(31, 0x2000n)], [500, 2 ** 32 + 1]);
    const arena = new StackArena();
    arena.reset();
    const at = [
      ...small.map((_, i) => arena.add(view(smallValues), i * 32 * 8, 32)),
      ...large.map((_, i) => arena.add(view(largeValues), i * 128 * 8, 128)),
      arena.add(view(clamped), 0, 32),
      arena.add(view(clamped), 32 * 8, 32),
    ];
    const stacks = arena.take();
    const expected = [
      ...small.map((_, i) => decodeStack(smallValues, i * 32 * 8, 32)),
      ...large.map((_, i) => decodeStack(largeValues, i * 128 * 8, 128)),
      decodeStack(clamped, 0, 32),
      decodeStack(clamped, 32 * 8, 32),
    ];
    expect(expected[6]).toHaveLength(31);
    expect(expected[7]).toEqual(frames(31, 0x2000n));
    at.forEach((userAt, i) => {
      const s = new SampledStacks(row(BigInt(i + 1), 0n), stacks, userAt, i === 1 ? at[3]! : -1);
      expect(s.userDepth).toBe(expected[i]!.length);
      expect(s.userLeaf).toBe(expected[i]![0]);
      expect(s.userAddrs).toEqual(expected[i]);
      expect(s.kernelAddrs).toEqual(i === 1 ? expected[3] : []);
      expect(s.kernelDepth).toBe(i === 1 ? 12 : 0);
      expect({ pid: s.pid, kind: s.kind, comm: s.comm, count: s.count, userStack: s.userStack }).toEqual({ pid: 42, kind: 'cpu', comm: 'burner', count: 3, userStack: BigInt(i + 1) });
    });
    // A stack the map no longer held (dropped): no frames, as before.
    const gone = new SampledStacks(row(99n, 98n), stacks, -1, -1);
    expect([gone.userAddrs, gone.kernelAddrs, gone.userDepth, gone.userLeaf]).toEqual([[], [], 0, undefined]);
  });

  it('keeps each interval’s stacks its own when the arena is reused and grows', () => {
    const arena = new StackArena();
    const one = (base: bigint) => {
      arena.reset();
      const many = Array.from({ length: 600 }, (_, i) => Array.from({ length: 100 }, (_, j) => base + BigInt(i * 1000 + j)));
      const values = storedStacks(128, many);
      const at = many.map((_, i) => arena.add(view(values), i * 128 * 8, 128));
      const stacks = arena.take();
      return { many, samples: at.map((a, i) => new SampledStacks(row(BigInt(i + 1), 0n), stacks, a, -1)) };
    };
    const first = one(0x1000n); // 600 stacks of 100 frames: past the arena's first 64 KiB
    const second = one(0x9_0000_0000n);
    first.samples.forEach((s, i) => expect(s.userAddrs).toEqual(first.many[i]));
    second.samples.forEach((s, i) => expect(s.userAddrs).toEqual(second.many[i]));
  });
});

describe('frame words decoded again (their BigInts are kept by slot)', () => {
  it('give each word’s own value when words share a half, collide in a slot, recur, or are 0', () => {
    // Words that agree in their low or high 32 bits, V8/CPython-tagged words (bit 63), zeros between them:
    // 3 × 5000 distinct words over 4096 slots, each stack decoded after others have taken its slots.
    const words: bigint[] = [0n];
    for (let i = 0; i < 5000; i++) {
      const low = BigInt((i * 0x9e37_79b9) >>> 0);
      words.push(0x7f00_0000_0000n | low, (BigInt(i) << 32n) | 0x1234n, (1n << 63n) | (BigInt(i) << 20n) | low, 0n);
    }
    const stacks = Array.from({ length: Math.ceil(words.length / 100) }, (_, i) => words.slice(i * 100, i * 100 + 100));
    const values = storedStacks(128, [...stacks, ...stacks.slice().reverse()]);
    const arena = new StackArena();
    const at = Array.from({ length: stacks.length * 2 }, (_, i) => arena.add(view(values), i * 128 * 8, 128));
    const bytes = arena.take();
    at.forEach((userAt, i) => {
      const s = new SampledStacks(row(BigInt(i + 1), 0n), bytes, userAt, -1);
      expect(s.userLeaf).toBe(decodeStack(values, i * 128 * 8, 128)[0]);
      expect(s.userAddrs).toEqual(decodeStack(values, i * 128 * 8, 128));
    });
  });
});

describe('a counts row, decoded in place', () => {
  /** One `struct sample_key` (profile.bpf.c) at `off` of a batch: pid, kind, user and kernel stack hashes, comm. */
  function key(buf: Buffer, off: number, k: { pid: number; kind: number; user: bigint; kernel: bigint; comm: Buffer }): void {
    buf.writeUInt32LE(k.pid, off);
    buf.writeUInt32LE(k.kind, off + 4);
    buf.writeBigUInt64LE(k.user, off + 8);
    buf.writeBigUInt64LE(k.kernel, off + 16);
    k.comm.copy(buf, off + 24, 0, 16);
  }

  it('gives each key’s pid, kind, stack hashes (all 64 bits) and comm, whatever the comm’s length', () => {
    const batch = Buffer.alloc(4 * 40, 0xee); // 0xee: stale bytes of an earlier batch
    const nul = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(16)]);
    key(batch, 0, { pid: 4242, kind: 0, user: 0xffff_ffff_ffff_fffen, kernel: 0n, comm: nul('burner') });
    key(batch, 40, { pid: 7, kind: 1, user: 0x1234_5678_9abc_def0n, kernel: 0x8000_0000_0000_0001n, comm: Buffer.from('sixteen-chars-xx') });
    key(batch, 80, { pid: 2 ** 31 + 5, kind: 0, user: 1n, kernel: 2n, comm: nul('wörker') });
    key(batch, 120, { pid: 9, kind: 0, user: 0n, kernel: 3n, comm: Buffer.alloc(16) });
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    expect([0, 40, 80, 120].map((off, i) => decodeRow(batch, view, off, [1, 2 ** 40, 3, 0][i]!))).toEqual([
      { pid: 4242, kind: 'cpu', userStack: 0xffff_ffff_ffff_fffen, kernelStack: 0n, comm: 'burner', count: 1 },
      { pid: 7, kind: 'off_cpu', userStack: 0x1234_5678_9abc_def0n, kernelStack: 0x8000_0000_0000_0001n, comm: 'sixteen-chars-xx', count: 2 ** 40 },
      { pid: 2 ** 31 + 5, kind: 'cpu', userStack: 1n, kernelStack: 2n, comm: 'wörker', count: 3 },
      { pid: 9, kind: 'cpu', userStack: 0n, kernelStack: 3n, comm: '', count: 0 },
    ]);
  });
});

describe('a known stack of a sampled process', () => {
  let dir: string;
  let binary: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kiln-sampler-'));
    binary = buildProgram(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is found by hash, depth and leaf without its addresses being decoded, giving the same dictionary stack', async () => {
    const p = await startProgram(binary);
    try {
      const addrs = [p.addr.burn_a!, p.addr.main! + 8n];
      const values = storedStacks(32, [addrs]);
      const arena = new StackArena();
      arena.reset();
      const stacks = (arena.add(view(values), 0, 32), arena.take());
      let decoded = 0;
      /** The sampler's sample, counting how often its addresses are decoded. */
      const sample = (): RawSample => {
        const s = new SampledStacks({ pid: p.pid, kind: 'cpu', userStack: 77n, kernelStack: 0n, comm: 'burner', count: 1 }, stacks, 0, -1);
        return Object.create(s, {
          userAddrs: { get: () => (decoded++, s.userAddrs) },
        }) as RawSample;
      };
      const sym = new ProcSymbolizer();
      const b = new DictionaryBuilder();
      sym.observe(p.pid);
      const first = sym.stack(sample(), b);
      expect(b.dict.stacks[first]!.map((l) => frameNames(b.dict, l)[0])).toEqual(['burn_a', 'main']);
      expect(decoded, 'a stack seen for the first time is symbolized frame by frame').toBeGreaterThan(0);
      // The next interval: the same stack, by its hash alone.
      sym.observe(p.pid);
      decoded = 0;
      const hitsBefore = sym.stats().stackHits;
      expect(sym.stack(sample(), b)).toBe(first);
      expect(sym.stats().stackHits - hitsBefore).toBe(1);
      expect(decoded, 'a known stack needs no addresses decoded').toBe(0);
    } finally {
      await p.stop();
    }
  });
});
