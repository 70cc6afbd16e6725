import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tuneMalloc } from '../../../src/agent/malloc-tuning.js';
import { withWorkingMemory, WorkingMemory } from '../../../src/agent/symbolize/working-memory.js';

const rssMiB = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

describe('working memory (first-time work that must leave nothing behind)', () => {
  it('gives its memory back to the kernel when released, without waiting for a GC', () => {
    expect(tuneMalloc(), 'glibc malloc settings (the agent applies them at start)').toBe(true);
    const before = rssMiB();
    let afterFill = 0;
    withWorkingMemory((m) => {
      const words = m.words(16 << 20); // 64 MiB
      words.fill(7);
      const grown = m.grown(words, 16 << 20, (16 << 20) + 1024);
      expect(grown[(16 << 20) - 1]).toBe(7);
      afterFill = rssMiB();
      expect(WorkingMemory.outstandingBytes).toBe(((16 << 20) + 1024) * 4);
    });
    const afterRelease = rssMiB();
    expect(afterFill - before, 'MiB resident while in use').toBeGreaterThan(60);
    expect(afterFill - afterRelease, 'MiB given back on release').toBeGreaterThan(60);
    expect(WorkingMemory.outstandingBytes).toBe(0);
  });

  it('frees on a throw too, and hands out every kind of view at the size asked', () => {
    expect(() =>
      withWorkingMemory((m) => {
        expect(m.bytes(10).length).toBe(10);
        expect(m.doubles(3).length).toBe(3);
        expect(m.words(0).length).toBe(0);
        throw new Error('parse failed');
      }),
    ).toThrow('parse failed');
    expect(WorkingMemory.outstandingBytes).toBe(0);
  });

  it('reads a whole /proc file (size 0 to stat) into a buffer grown past its first size', () => {
    // The test process's own mappings change whenever something in it allocates (other test files run
    // beside this one), so the two reads are taken back to back, up to five times, until one pair agrees.
    let same = false;
    for (let i = 0; i < 5 && !same; i++) {
      const want = readFileSync('/proc/self/maps');
      expect(want.length, 'maps longer than the first 4 KiB read').toBeGreaterThan(4096);
      withWorkingMemory((m) => (same = m.readFile('/proc/self/maps', 4096).equals(want)));
    }
    expect(same, 'read whole, byte for byte as readFileSync reads it').toBe(true);
    expect(WorkingMemory.outstandingBytes).toBe(0);
  });
});
