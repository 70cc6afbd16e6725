import { describe, expect, it } from 'vitest';
import type { CommitBatch, CommitPacing } from '../../src/store/engine.js';
import { EngineStore } from '../../src/store/index.js';
import { folded, freshTenant, MINUTE, selector, T0 } from './fixtures.js';
import { MemoryEngine } from './memory-engine.js';

/** A memory engine paced like ClickHouse: it records when each commit arrives and how many profiles it holds. */
class PacedEngine extends MemoryEngine {
  readonly commits: { at: number; profiles: number }[] = [];
  /** `commitMs`: how long each commit takes (a database's commit is not instant). */
  constructor(
    readonly commitPacing: CommitPacing,
    private readonly commitMs = 0,
  ) {
    super();
  }
  override async commit(b: CommitBatch): Promise<void> {
    this.commits.push({ at: performance.now(), profiles: b.profiles.length });
    if (this.commitMs > 0) await new Promise((r) => setTimeout(r, this.commitMs));
    await super.commit(b);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const profile = (i: number) => folded({ labels: { service_name: 'checkout', pod: `p${i}` }, timeMs: T0 + i * MINUTE, samples: { 'main;work': 10 + i } });

describe('commit pacing (an engine that wants few, large inserts)', () => {
  it('starts commits at most once per interval; writes arriving meanwhile share one commit and all are stored', async () => {
    const engine = new PacedEngine({ rows: 1_000_000, gatherMs: 0, minIntervalMs: 300 });
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    const t0 = performance.now();
    await store.write(tenant, [profile(0)]);
    // Four writes right after the first commit: they wait for the interval, then go in one commit.
    const results = await Promise.all([1, 2, 3, 4].map((i) => store.write(tenant, [profile(i)])));
    expect(results.map((r) => r.profiles)).toEqual([1, 1, 1, 1]);
    expect(engine.commits.map((c) => c.profiles)).toEqual([1, 4]);
    // The interval runs from when the first commit started, which is after t0.
    expect(engine.commits[1]!.at - t0).toBeGreaterThanOrEqual(295);
    const series = await store.series({ tenant, selector: selector(), from: T0 - MINUTE, to: T0 + 10 * MINUTE });
    expect(series).toHaveLength(5);
    await store.close();
  });

  it('does not hold a lone write once the interval has passed, and stops waiting once enough rows are queued', async () => {
    const engine = new PacedEngine({ rows: 2, gatherMs: 0, minIntervalMs: 5_000 });
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    const t0 = performance.now();
    await store.write(tenant, [profile(0)]);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // Two writes of one row each reach the row bound at once: no 5 s wait.
    await Promise.all([1, 2].map((i) => store.write(tenant, [profile(i)])));
    expect(performance.now() - t0).toBeLessThan(2_500);
    expect(engine.commits.map((c) => c.profiles)).toEqual([1, 2]);
    await store.close();
  });

  it('with a quiet period, writes arriving one after another share a commit, and a lone writer is not held by it', async () => {
    const engine = new PacedEngine({ rows: 1_000_000, gatherMs: 0, minIntervalMs: 0, quietMs: 400, quietMaxMs: 5_000 }, 50);
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    // One write at a time, each awaited: no stream, so none waits for the quiet period.
    const t0 = performance.now();
    for (const i of [0, 1, 2]) await store.write(tenant, [profile(i)]);
    expect(performance.now() - t0).toBeLessThan(400);
    expect(engine.commits.map((c) => c.profiles)).toEqual([1, 1, 1]);
    // A stream: two writes together (one commit, or two if the second queues while the first runs),
    // then two more 100 ms apart, as decoded requests reach the store one by one: without the quiet
    // period each would commit alone; with it they share one commit.
    const writes = [store.write(tenant, [profile(3)]), store.write(tenant, [profile(4)])];
    await sleep(100);
    writes.push(store.write(tenant, [profile(5)]));
    await sleep(100);
    writes.push(store.write(tenant, [profile(6)]));
    const results = await Promise.all(writes);
    expect(results.map((r) => r.profiles)).toEqual([1, 1, 1, 1]);
    const stream = engine.commits.slice(3);
    expect(stream.map((c) => c.profiles).reduce((a, b) => a + b)).toBe(4);
    expect(stream.length).toBeLessThanOrEqual(3);
    const last = stream[stream.length - 1]!;
    expect(last.profiles).toBeGreaterThanOrEqual(2);
    // The stream had two writers (3 and 4 waited together), so the commit of 5 started once 6 joined it
    // (≈ 200 ms in), not after the 400 ms quiet period nor at the 5 s bound.
    expect(last.at - stream[0]!.at).toBeGreaterThanOrEqual(150);
    expect(last.at - stream[0]!.at).toBeLessThan(500);
    const series = await store.series({ tenant, selector: selector(), from: T0 - MINUTE, to: T0 + 10 * MINUTE });
    expect(series).toHaveLength(7);
    await store.close();
  });

  it('a write that queued while a long commit ran waits for the writers that commit answers, not committed alone', async () => {
    // Commits take longer than the quiet period: a write queued early in one has been quiet for long when it ends.
    const engine = new PacedEngine({ rows: 1_000_000, gatherMs: 0, minIntervalMs: 0, quietMs: 60, quietMaxMs: 5_000 }, 200);
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    // Four writers that each write again 10 ms after their write is answered; the fourth starts 20 ms late,
    // while the first commit (of the other three) runs.
    const writer = async (w: number, rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        expect((await store.write(tenant, [profile(w * 100 + r)])).profiles).toBe(1);
        await sleep(10);
      }
    };
    await Promise.all([0, 1, 2, 3].map(async (w) => {
      if (w === 3) await sleep(20);
      await writer(w, 5);
    }));
    const counts = engine.commits.map((c) => c.profiles);
    expect(counts.reduce((a, b) => a + b)).toBe(20);
    // After the first commit, each holds all four writers (not 1, 3, 1, 3, ...).
    expect(counts.slice(1)).toEqual([4, 4, 4, 4, 1]);
    await store.close();
  });

  it('a stream of writers that each write again once answered commits them all together, without waiting for the quiet period', async () => {
    const engine = new PacedEngine({ rows: 1_000_000, gatherMs: 0, minIntervalMs: 0, quietMs: 300, quietMaxMs: 5_000 }, 30);
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    // Four writers, as four agents pushing through a server: each sends its next write when the last is answered.
    const writer = async (w: number, rounds: number) => {
      for (let r = 0; r < rounds; r++) expect((await store.write(tenant, [profile(w * 100 + r)])).profiles).toBe(1);
    };
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map((w) => writer(w, 6)));
    const took = performance.now() - t0;
    // After the first commit or two (the stream is being learnt), every commit holds the four writes.
    const counts = engine.commits.map((c) => c.profiles);
    expect(counts.reduce((a, b) => a + b)).toBe(24);
    expect(counts.slice(2).every((n) => n === 4)).toBe(true);
    // No commit waited for the quiet period (300 ms): about 7 commits of 30 ms.
    expect(took).toBeLessThan(1_000);
    // One writer leaves: the next commit waits the quiet period once, then commits the three at once again.
    const before = engine.commits.length;
    const t1 = performance.now();
    await Promise.all([0, 1, 2].map((w) => writer(w + 10, 4)));
    const after = engine.commits.slice(before).map((c) => c.profiles);
    expect(after.reduce((a, b) => a + b)).toBe(12);
    expect(after.slice(1).every((n) => n === 3)).toBe(true);
    expect(performance.now() - t1).toBeLessThan(300 + 1_000);
    const series = await store.series({ tenant, selector: selector(), from: T0 - MINUTE, to: T0 + 2_000 * MINUTE });
    expect(series).toHaveLength(36);
    await store.close();
  });
});
