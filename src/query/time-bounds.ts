import type { Store } from '../store/store.js';

/** Buckets per read: well under the 11 000 points a series read may return. */
const BUCKETS = 10_000;

export interface TimeBounds {
  /** Unix ms of the first and last stored profile; undefined when the tenant has none. */
  readonly oldestMs: number;
  readonly newestMs: number;
}

/**
 * The times of a tenant's first and last profile (Pyroscope's GetProfileStats), from the store's
 * bucketed series reads alone: the first and last non-empty bucket of all time, then of that bucket,
 * until a bucket is one millisecond wide. Each level divides the window by 10 000, so the search takes
 * four reads per end over 50 years of range, and no engine needs a method of its own for it.
 */
export async function profileTimeBounds(store: Store, tenant: string, nowMs: number, signal?: AbortSignal): Promise<TimeBounds | undefined> {
  const read = async (from: number, to: number, stepMs: number): Promise<number[]> => {
    const series = await store.seriesPoints({
      tenant,
      selector: { profileType: '', matchers: [] },
      from,
      to,
      stepMs,
      groupBy: [],
      aggregation: 'sum',
      signal,
    });
    const times = series.flatMap((s) => s.points.map((p) => p.timeMs));
    return times.sort((a, b) => a - b);
  };
  const edge = async (from: number, to: number, pick: 'first' | 'last'): Promise<number | undefined> => {
    let lo = from;
    let hi = to;
    for (;;) {
      const step = Math.max(1, Math.ceil((hi - lo) / BUCKETS));
      const times = await read(lo, hi, step);
      if (times.length === 0) return undefined;
      const t = pick === 'first' ? times[0]! : times[times.length - 1]!;
      if (step === 1) return t;
      // A bucket is stamped with its start; engines may align buckets to the epoch, not to `lo`.
      lo = Math.max(lo, t);
      hi = Math.min(hi, t + step);
    }
  };
  const end = nowMs + 86_400_000;
  const oldest = await edge(0, end, 'first');
  if (oldest === undefined) return undefined;
  const newest = (await edge(oldest, end, 'last')) ?? oldest;
  return { oldestMs: oldest, newestMs: newest };
}
