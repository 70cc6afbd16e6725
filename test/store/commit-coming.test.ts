import { describe, expect, it } from 'vitest';
import type { CommitBatch, CommitPacing } from '../../src/store/engine.js';
import { EngineStore } from '../../src/store/index.js';
import { announceWrites } from '../../src/store/write-hints.js';
import { folded, freshTenant, MINUTE, selector, T0 } from './fixtures.js';
import { MemoryEngine } from './memory-engine.js';

/** A memory engine that notes how many profiles each commit holds. */
class CountingEngine extends MemoryEngine {
  readonly sizes: number[] = [];
  constructor(readonly commitPacing: CommitPacing) {
    super();
  }
  override commit(b: CommitBatch): Promise<void> {
    this.sizes.push(b.profiles.length);
    return super.commit(b);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const profile = (i: number) => folded({ labels: { service_name: 'checkout', pod: `p${i}` }, timeMs: T0 + i * MINUTE, samples: { 'main;work': 1 + i } });
// The server's pacing: a quiet period of 20 ms, at most 100 ms — here 800, so that a wait that ends at it shows.
const pacing: CommitPacing = { rows: 1_000_000, gatherMs: 20, minIntervalMs: 0, quietMs: 20, quietMaxMs: 800 };

describe('a group commit and the writes a server says are on their way (decodes in flight)', () => {
  it('waits for every write counted as coming, even when they arrive further apart than the quiet period', async () => {
    const engine = new CountingEngine(pacing);
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    // Four decodes in flight on one thread, ending 50 ms apart: each ends as a write.
    let inFlight = 4;
    announceWrites(store, () => inFlight);
    const writes: Promise<{ profiles: number }>[] = [];
    for (let i = 0; i < 4; i++) {
      inFlight--;
      writes.push(store.write(tenant, [profile(i)]));
      await sleep(50);
    }
    expect((await Promise.all(writes)).map((r) => r.profiles)).toEqual([1, 1, 1, 1]);
    // One commit for the four (with "some are coming" alone each waited 20 ms and went by itself).
    expect(engine.sizes).toEqual([4]);
    const series = await store.series({ tenant, selector: selector(), from: T0 - MINUTE, to: T0 + 10 * MINUTE });
    expect(series).toHaveLength(4);
    await store.close();
  });

  it('holds a write for decodes that never end as writes at most the pacing bound, and a lone write not at all', async () => {
    const engine = new CountingEngine(pacing);
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    let inFlight = 0;
    announceWrites(store, () => inFlight);
    let t0 = performance.now();
    await store.write(tenant, [profile(0)]);
    expect(performance.now() - t0).toBeLessThan(200);
    // Three decodes said to be in flight that fail (no write comes): the write waits the 800 ms bound, not longer.
    inFlight = 3;
    t0 = performance.now();
    await store.write(tenant, [profile(1)]);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(700);
    expect(waited).toBeLessThan(2_000);
    expect(engine.sizes).toEqual([1, 1]);
    await store.close();
  });
});
