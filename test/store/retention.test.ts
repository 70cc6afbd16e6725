import { describe, expect, it, vi } from 'vitest';
import { scheduleRetention } from '../../src/store/retention.js';
import type { Store } from '../../src/store/store.js';

const HOUR = 3_600_000;

/** A store that only answers dropBefore, recording the cut-off it was given. */
function droppingStore(dropped: number, cutoffs: number[]): Store {
  return {
    dropBefore: async (olderThanMs: number) => {
      cutoffs.push(olderThanMs);
      return dropped;
    },
  } as unknown as Store;
}

describe('scheduleRetention', () => {
  it('drops at once what is older than the retention, and says so in the retention the user gave', async () => {
    for (const [retentionMs, said] of [[7 * 24 * HOUR, '7d'], [6 * HOUR, '6h']] as const) {
      const cutoffs: number[] = [];
      const log = vi.fn<(msg: string) => void>();
      const before = Date.now();
      const stop = scheduleRetention(droppingStore(2, cutoffs), retentionMs, log);
      await vi.waitFor(() => expect(log).toHaveBeenCalled());
      stop();
      expect(cutoffs).toHaveLength(1);
      expect(cutoffs[0]).toBeGreaterThanOrEqual(before - retentionMs);
      expect(cutoffs[0]).toBeLessThanOrEqual(Date.now() - retentionMs);
      expect(log).toHaveBeenCalledWith(`retention: dropped 2 day(s) older than ${said}`);
    }
  });

  it('logs a failed drop instead of throwing', async () => {
    const store = { dropBefore: async () => Promise.reject(new Error('disk gone')) } as unknown as Store;
    const log = vi.fn<(msg: string) => void>();
    const stop = scheduleRetention(store, HOUR, log);
    await vi.waitFor(() => expect(log).toHaveBeenCalledWith('retention: disk gone'));
    stop();
  });
});
