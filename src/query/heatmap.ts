import type { Labels } from '../model/labels.js';
import { formatLabels } from '../model/labels.js';

/**
 * Pyroscope's heatmap: each profile (or each span of a profile) is a point (time, total); points are counted per time
 * slot and value bucket. Slots are named by their right edge and cover (t - step, t], the first one
 * ending at `start`; the value axis is the same 20 even buckets for every series, from the smallest to
 * the largest total of the answer. With exemplars, each non-empty cell names its heaviest profile.
 */
export const HEATMAP_VALUE_BUCKETS = 20;

export interface HeatmapExemplar {
  readonly timeMs: number;
  readonly profileId: string;
  readonly spanId?: string;
  readonly value: number;
  /** The profile's labels that the series' own labels do not already say. */
  readonly labels: Labels;
}

export interface HeatmapSlot {
  /** Right edge of the slot (Unix ms). */
  readonly timeMs: number;
  /** Lower bound of each value bucket (the same for every slot). */
  readonly yMin: readonly number[];
  readonly counts: readonly number[];
  readonly exemplars: readonly HeatmapExemplar[];
}

export interface HeatmapSeries {
  /** Values of the group-by labels. */
  readonly labels: Labels;
  readonly slots: readonly HeatmapSlot[];
}

export interface HeatmapOptions {
  readonly start: number;
  readonly end: number;
  readonly stepMs: number;
  readonly groupBy: readonly string[];
  readonly exemplars: boolean;
  /** Keep the series with the most points (0 = all). */
  readonly limit: number;
}

/** A point of the heatmap: a profile, or the samples of one span in it. */
export interface HeatmapPoint {
  /** The labels of its series. */
  readonly labels: Labels;
  readonly timeMs: number;
  readonly total: number;
  /** '' for a span point (span samples are not kept per profile id). */
  readonly profileId: string;
  readonly spanId?: string;
}

export function buildHeatmap(points: readonly HeatmapPoint[], opts: HeatmapOptions): HeatmapSeries[] {
  if (points.length === 0) return [];
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    min = Math.min(min, p.total);
    max = Math.max(max, p.total);
  }
  if (max === min) max = min + 1;
  const size = (max - min) / HEATMAP_VALUE_BUCKETS;
  const yMin = Array.from({ length: HEATMAP_VALUE_BUCKETS }, (_, i) => min + i * size);
  const bucketOf = (v: number) => Math.min(HEATMAP_VALUE_BUCKETS - 1, Math.max(0, Math.floor((v - min) / size)));
  const lastSlot = slotEnd(opts.end, opts.start, opts.stepMs);
  const slotOf = (t: number) => Math.min(lastSlot, Math.max(opts.start, slotEnd(t, opts.start, opts.stepMs)));

  const names = new Set(opts.groupBy);
  const groups = new Map<string, { labels: Labels; cells: Map<number, { counts: number[]; best: (HeatmapPoint | undefined)[] }>; n: number }>();
  for (const p of points) {
    const labels = p.labels.filter((l) => names.has(l.name));
    const key = formatLabels(labels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels, cells: new Map(), n: 0 }));
    const t = slotOf(p.timeMs);
    let cell = g.cells.get(t);
    if (!cell) g.cells.set(t, (cell = { counts: new Array<number>(HEATMAP_VALUE_BUCKETS).fill(0), best: [] }));
    const b = bucketOf(p.total);
    cell.counts[b]!++;
    g.n++;
    const best = cell.best[b];
    if (!best || p.total > best.total) cell.best[b] = p;
  }
  let series = [...groups.values()].sort((a, b) => b.n - a.n || cmp(formatLabels(a.labels), formatLabels(b.labels)));
  if (opts.limit > 0) series = series.slice(0, opts.limit);
  return series
    .sort((a, b) => cmp(formatLabels(a.labels), formatLabels(b.labels)))
    .map((g) => ({
      labels: g.labels,
      slots: [...g.cells]
        .sort((a, b) => a[0] - b[0])
        .map(([timeMs, cell]) => ({
          timeMs,
          yMin,
          counts: cell.counts,
          exemplars: opts.exemplars ? cell.best.filter((p): p is HeatmapPoint => p !== undefined).map((p) => exemplarOf(p, names)) : [],
        })),
    }));
}

/** The heaviest profile as an exemplar, with the labels its series does not already carry. */
export function exemplarOf(p: HeatmapPoint, seriesLabelNames: ReadonlySet<string>): HeatmapExemplar {
  return {
    timeMs: p.timeMs,
    profileId: p.profileId,
    ...(p.spanId !== undefined ? { spanId: p.spanId } : {}),
    value: p.total,
    labels: p.labels.filter((l) => !seriesLabelNames.has(l.name)),
  };
}

/** Right edge of the slot (start + k·step - step, start + k·step] that holds t. */
function slotEnd(t: number, start: number, step: number): number {
  return start + Math.ceil((t - start) / step) * step;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
