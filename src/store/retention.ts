import type { Store } from './store.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Enforces `--retention` by dropping whole day partitions older than it: once at start and then hourly.
 * Returns a stop function. Engine-agnostic: each engine drops days its own way.
 */
export function scheduleRetention(store: Store, retentionMs: number, log: (msg: string) => void = () => {}): () => void {
  // In days when whole (the usual --retention 7d), else hours: a 6h retention is not "0d".
  const age = retentionMs % DAY === 0 ? `${retentionMs / DAY}d` : `${Math.round(retentionMs / HOUR)}h`;
  const run = async () => {
    try {
      const dropped = await store.dropBefore(Date.now() - retentionMs);
      if (dropped > 0) log(`retention: dropped ${dropped} day(s) older than ${age}`);
    } catch (e) {
      log(`retention: ${(e as Error).message}`);
    }
  };
  void run();
  const timer = setInterval(run, HOUR);
  timer.unref();
  return () => clearInterval(timer);
}
