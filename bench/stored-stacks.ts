/**
 * Samples for the agent benches as the sampler hands them over: their user stacks stored as the BPF
 * stacks map holds them (a 32-word value: frame count, frames) and read back the way a given checkout's
 * sampler reads them — lazily over one copy of the bytes where it has StackArena (issue 11), else every
 * stack decoded into BigInts. Every sample of a bench goes this way: mixing plain objects in with the
 * lazy ones would slow the code optimized for the latter.
 */
import type * as Sampler from '../src/agent/sampler.js';
import type { RawSample } from '../src/agent/types.js';

const WORDS = 32;

/** A checkout's sampler module: the lazy reader where it has one. */
export type SamplerModule = Partial<typeof Sampler> & Pick<typeof Sampler, 'decodeStack'>;

export function storeStacks(samples: readonly RawSample[]): Buffer {
  const bytes = Buffer.alloc(samples.length * WORDS * 8);
  samples.forEach((s, i) => {
    bytes.writeBigUInt64LE(BigInt(s.userAddrs.length), i * WORDS * 8);
    s.userAddrs.forEach((a, j) => bytes.writeBigUInt64LE(a, i * WORDS * 8 + 8 + j * 8));
  });
  return bytes;
}

/** A reader of stored samples for one checkout's sampler (keeps its arena across reads, as the sampler does). */
export function storedReader(sampler: SamplerModule): (samples: readonly RawSample[], bytes: Buffer) => RawSample[] {
  const { StackArena, SampledStacks } = sampler;
  const arena = StackArena && new StackArena();
  return (samples, bytes) => {
    if (!arena || !SampledStacks) return samples.map((s, i) => ({ ...s, userAddrs: sampler.decodeStack(bytes, i * WORDS * 8, WORDS), kernelAddrs: [] }));
    arena.reset();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const starts = samples.map((_, i) => arena.add(view, i * WORDS * 8, WORDS));
    const stacks = arena.take();
    return samples.map((s, i) => new SampledStacks({ pid: s.pid, kind: s.kind, comm: s.comm, count: s.count, userStack: s.userStack ?? 0n, kernelStack: 0n }, stacks, starts[i]!, -1));
  };
}
