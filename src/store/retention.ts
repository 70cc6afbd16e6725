import type { Store } from './store.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** A retention as `--retention` spells it: in days when whole (the usual 7d), else hours (a 6h retention is not "0d"). */
export function retentionText(retentionMs: number): string {
  return retentionMs % DAY === 0 ? `${retentionMs / DAY}d` : `${Math.round(retentionMs / HOUR)}h`;
}

/**
 * Enforces `--retention` by dropping whole day partitions older than it: once at start and then hourly.
 * Returns a stop function. Engine-agnostic: each engine drops days its own way.
 */
export function scheduleRetention(store: Store, retentionMs: number, log: (msg: string) => void = () => {}): () => void {
  const age = retentionText(retentionMs);
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
