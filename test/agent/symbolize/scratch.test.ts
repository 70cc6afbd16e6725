import { describe, expect, it } from 'vitest';
import { Scratch } from '../../../src/agent/symbolize/scratch.js';

describe('Scratch (working memory reused between first-time jobs)', () => {
  it('hands out the same memory again, grown in doublings, up to what it keeps', () => {
    const s = new Scratch(1 << 20);
    const a = s.bytes(1000);
    const b = s.bytes(60_000);
    expect(b.buffer, 'a smaller request reuses the kept memory').toBe(a.buffer);
    expect(s.retainedBytes).toBe(64 * 1024);
    s.bytes(100_000);
    expect(s.retainedBytes).toBe(128 * 1024);
    s.bytes(900_000);
    expect(s.retainedBytes, 'capped at what it keeps').toBe(1 << 20);
    const big = s.bytes(3 << 20);
    expect(big.length).toBe(3 << 20);
    expect(s.retainedBytes, 'a request past the cap gets memory of its own, not kept').toBe(1 << 20);
    expect(big.buffer).not.toBe(s.bytes(10).buffer);
  });

  it('grows an array it gave out, keeping its contents', () => {
    const s = new Scratch(1 << 20);
    let w = s.words(4);
    w.set([1, 2, 3, 4]);
    w = s.grown(w, 4, 8);
    expect([...w.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    w.fill(7, 4);
    w = s.grown(w, 8, 40_000); // past the first 64 KiB: new memory, contents copied
    expect([...w.subarray(0, 8)]).toEqual([1, 2, 3, 4, 7, 7, 7, 7]);
    const d = s.grown(new Float64Array([0.5, 1.5]), 2, 3);
    expect([...d.subarray(0, 2)]).toEqual([0.5, 1.5]);
  });
});

describe('Scratch when first-time work stops', () => {
  it('lets its memory go once unused for its idle time, and grows again on the next use', async () => {
    const s = new Scratch(1 << 20, 400);
    s.bytes(200_000);
    expect(s.retainedBytes).toBe(256 * 1024);
    await new Promise((r) => setTimeout(r, 250));
    s.bytes(10); // used again: the idle time starts over
    await new Promise((r) => setTimeout(r, 250));
    expect(s.retainedBytes, 'kept: last used 250 ms ago, 500 ms after first').toBe(256 * 1024);
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.retainedBytes).toBe(0);
    expect(s.bytes(100).length).toBe(100);
    expect(s.retainedBytes).toBe(64 * 1024);
  });
});
