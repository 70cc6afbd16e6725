import { describe, expect, it } from 'vitest';
import { RetryQueue, type SendOutcome } from '../../src/agent/exporter-queue.js';

interface Item {
  readonly id: number;
  readonly bytes: number;
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 4 };

describe('RetryQueue', () => {
  it('delivers everything in order while the server answers', async () => {
    const sent: number[] = [];
    const q = new RetryQueue<Item>(async (i) => (sent.push(i.id), { ok: true }), { maxItems: 10, maxBytes: 1e6, ...fast });
    for (let id = 1; id <= 5; id++) q.push({ id, bytes: 10 });
    expect(await q.drain(5000)).toBe(true);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    expect(q.length).toBe(0);
  });

  it('keeps requests while the server is down and delivers them, in order, when it is back', async () => {
    let up = false;
    const sent: number[] = [];
    let failures = 0;
    const q = new RetryQueue<Item>(
      async (i): Promise<SendOutcome> => {
        if (!up) return { ok: false, retry: true, error: 'ECONNREFUSED' };
        sent.push(i.id);
        return { ok: true };
      },
      { maxItems: 10, maxBytes: 1e6, ...fast },
      { failed: () => failures++ },
    );
    q.push({ id: 1, bytes: 1 });
    q.push({ id: 2, bytes: 1 });
    while (failures < 3) await new Promise((r) => setTimeout(r, 2));
    expect(sent).toEqual([]);
    expect(q.length).toBe(2);
    up = true;
    expect(await q.drain(5000)).toBe(true);
    expect(sent).toEqual([1, 2]);
    q.close();
  });

  it('drops the oldest first when full, and counts what it dropped', async () => {
    const dropped: number[] = [];
    const q = new RetryQueue<Item>(async () => ({ ok: false, retry: true, error: 'down' }), { maxItems: 3, maxBytes: 1e6, initialBackoffMs: 60_000, maxBackoffMs: 60_000 }, {
      dropped: (i) => dropped.push(i.id),
    });
    for (let id = 1; id <= 6; id++) q.push({ id, bytes: 1 });
    expect(dropped).toEqual([1, 2, 3]);
    expect(q.length).toBe(3);
    q.close();
  });

  it('bounds bytes as well as requests', () => {
    const dropped: number[] = [];
    const q = new RetryQueue<Item>(async () => ({ ok: false, retry: true, error: 'down' }), { maxItems: 100, maxBytes: 250, initialBackoffMs: 60_000, maxBackoffMs: 60_000 }, {
      dropped: (i) => dropped.push(i.id),
    });
    for (let id = 1; id <= 4; id++) q.push({ id, bytes: 100 });
    expect(dropped).toEqual([1, 2]);
    expect(q.bytes).toBe(200);
    q.close();
  });

  it('does not retry a request the server rejected for good (4xx), and moves on', async () => {
    const calls: number[] = [];
    const q = new RetryQueue<Item>(
      async (i): Promise<SendOutcome> => (calls.push(i.id), i.id === 1 ? { ok: false, retry: false, error: 'HTTP 400' } : { ok: true }),
      { maxItems: 10, maxBytes: 1e6, ...fast },
    );
    q.push({ id: 1, bytes: 1 });
    q.push({ id: 2, bytes: 1 });
    expect(await q.drain(5000)).toBe(true);
    expect(calls).toEqual([1, 2]);
  });

  it('backs off exponentially up to the cap', async () => {
    const times: number[] = [];
    const q = new RetryQueue<Item>(async () => (times.push(Date.now()), { ok: false, retry: true, error: 'down' }), { maxItems: 10, maxBytes: 1e6, initialBackoffMs: 20, maxBackoffMs: 80 });
    q.push({ id: 1, bytes: 1 });
    while (times.length < 6) await new Promise((r) => setTimeout(r, 10));
    q.close();
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Waits double (20, 40, 80) then stay at the cap; timers only ever fire late, never early.
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(gaps[3]).toBeGreaterThanOrEqual(79);
  });
});
