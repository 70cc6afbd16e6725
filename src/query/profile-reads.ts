import { InputError } from '../model/errors.js';
import { formatLabels } from '../model/labels.js';
import type { QueryFootprint, SeriesPoints, SeriesQuery, Store } from '../store/store.js';
import type { HeatmapExemplar, HeatmapPoint, HeatmapSeries } from './heatmap.js';
import { buildHeatmap, exemplarOf } from './heatmap.js';
import type { LabelQuery } from './labels.js';
import { seriesQueriesFor } from './labels.js';
import { profileIdText } from './profile-ids.js';
import { checkRange } from './time.js';

/**
 * Reads that name stored profiles one by one (heatmaps, exemplars) and the footprint of a query. They
 * read the per-profile rows only — one row per profile, never its samples.
 *
 * Profiles one such read may list. A profile per series every 10 s is 8 640 a day; 500 000 covers a day
 * of ~60 series, and costs ~100 B each in memory (~50 MB). Past it the answer is refused, naming the limit.
 */
export const MAX_LISTED_PROFILES = 500_000;

/** Slots one heatmap may have (the same cap as a time series' points). */
const MAX_SLOTS = 11_000;

/** What a heatmap counts and an exemplar names: whole profiles, or the spans recorded in them. */
export type PointKind = 'profiles' | 'spans';

export interface HeatmapQueryOptions {
  readonly points: PointKind;
  readonly stepMs: number;
  readonly groupBy: readonly string[];
  readonly exemplars: boolean;
  readonly limit: number;
}

/** The stored profiles (or spans) of a selection as heatmap points, the profile or span id in hex. */
async function listPoints(store: Store, q: SeriesQuery, kind: PointKind): Promise<HeatmapPoint[]> {
  if (kind === 'spans') {
    const spans = await store.listSpans({ ...q, limit: MAX_LISTED_PROFILES });
    return spans.map((s) => ({ labels: s.labels, timeMs: s.timeMs, total: s.total, profileId: '', spanId: profileIdText(s.spanId) }));
  }
  const profiles = await store.listProfiles({ ...q, limit: MAX_LISTED_PROFILES });
  return profiles.map((p) => ({ labels: p.labels, timeMs: p.timeMs, total: p.total, profileId: profileIdText(p.id) }));
}

/** Every stored profile (or span) in the range as a point, counted per slot and value bucket (heatmap.ts). */
export async function profileHeatmap(store: Store, q: SeriesQuery, opts: HeatmapQueryOptions): Promise<HeatmapSeries[]> {
  checkRange(q);
  checkStep(q, opts.stepMs);
  // The first slot ends at `from` and so covers (from - step, from]: read from there, as Pyroscope does.
  const points = await listPoints(store, { ...q, from: q.from - opts.stepMs }, opts.points);
  return buildHeatmap(points, { start: q.from, end: q.to, stepMs: opts.stepMs, groupBy: opts.groupBy, exemplars: opts.exemplars, limit: opts.limit });
}

export interface PointWithExemplar {
  readonly timeMs: number;
  readonly value: number;
  /** The heaviest profile of the point's bucket. */
  readonly exemplar?: HeatmapExemplar;
}

export interface SeriesWithExemplars {
  readonly labels: SeriesPoints['labels'];
  readonly points: readonly PointWithExemplar[];
}

/**
 * Each point of `series` (buckets of `stepMs` from `q.from`, grouped by `groupBy`) gets the heaviest
 * profile (or span) of its bucket and group as exemplar — Pyroscope keeps one per point, the largest.
 */
export async function withExemplars(
  store: Store,
  q: SeriesQuery,
  series: readonly SeriesPoints[],
  stepMs: number,
  groupBy: readonly string[],
  kind: PointKind,
): Promise<SeriesWithExemplars[]> {
  if (series.length === 0) return [];
  const listed = await listPoints(store, q, kind);
  const names = new Set(groupBy);
  const best = new Map<string, (typeof listed)[number]>();
  for (const p of listed) {
    const key = `${formatLabels(p.labels.filter((l) => names.has(l.name)))}@${q.from + Math.floor((p.timeMs - q.from) / stepMs) * stepMs}`;
    const b = best.get(key);
    if (!b || p.total > b.total) best.set(key, p);
  }
  return series.map((s) => ({
    labels: s.labels,
    points: s.points.map((pt) => {
      const p = best.get(`${formatLabels(s.labels)}@${pt.timeMs}`);
      return p ? { ...pt, exemplar: exemplarOf(p, names) } : pt;
    }),
  }));
}

/** What a listing-style selector (type optional, as AnalyzeQuery's `query`) would read in the range. */
export async function queryFootprint(store: Store, q: LabelQuery): Promise<QueryFootprint> {
  const parts = await Promise.all((await seriesQueriesFor(store, q)).map((sq) => store.footprint(sq)));
  return parts.reduce(
    (a, f) => ({ series: a.series + f.series, profiles: a.profiles + f.profiles, samples: a.samples + f.samples, sampleBytes: a.sampleBytes + f.sampleBytes }),
    { series: 0, profiles: 0, samples: 0, sampleBytes: 0 },
  );
}

function checkStep(q: SeriesQuery, stepMs: number): void {
  if (!(stepMs >= 1) || !Number.isFinite(stepMs)) throw new InputError(`step must be at least 1 ms, got ${stepMs} ms`);
  const slots = Math.ceil((q.to - q.from) / stepMs) + 1;
  if (slots > MAX_SLOTS) throw new InputError(`step ${stepMs} ms over this range gives ${slots} slots (limit ${MAX_SLOTS}): use a larger step`);
}
