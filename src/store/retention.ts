import type { Store } from './store.js';

const HOUR = 3600_000;

/**
 * Enforces `--retention` by dropping whole day partitions older than it: once at start and then hourly.
 * Returns a stop function. Engine-agnostic: each engine drops days its own way.
 */
export function scheduleRetention(store: Store, retentionMs: number, log: (msg: string) => void = () => {}): () => void {
  const run = async () => {
    try {
      const dropped = await store.dropBefore(Date.now() - retentionMs);
      if (dropped > 0) log(`retention: dropped ${dropped} day(s) older than ${Math.round(retentionMs / 86_400_000)}d`);
    } catch (e) {
      log(`retention: ${(e as Error).message}`);
    }
  };
  void run();
  const timer = setInterval(run, HOUR);
  timer.unref();
  return () => clearInterval(timer);
}
