import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeDroppedAtGc } from './dropped-at-gc.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/samples-after-gc.ts', import.meta.url));
/** What each full GC between two intervals dropped while no sample outlived its interval (stop 34). */
const SAMPLE_READERS = new Set(['SampledStacks', '<instance_members_initializer>', 'get userAddrs', 'get kernelAddrs', 'get userDepth', 'get userLeaf', 'get kernelDepth']);

describe("the sampler's samples across GCs (a kept sample, sampler.ts)", () => {
  it('keeps the optimized code of their getters when a full GC runs between two intervals', () => {
    // Without a live sample, each GC here dropped the constructor's and the five getters' code.
    const dropped = codeDroppedAtGc(FIXTURE, [], '### round 2 done: 1400000 frames');
    expect(dropped.filter((name) => SAMPLE_READERS.has(name))).toEqual([]);
  });
});
