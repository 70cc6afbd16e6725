import type { Labels } from '../model/labels.js';
import type { StackSummaries } from './stack-summaries.js';
import type { Window } from './window-merge.js';

/** A function's figures in one metric group: values as merged (type units) and, when priced, money. */
export interface GroupFunction {
  readonly name: string;
  self: number;
  total: number;
  selfCost: number;
  totalCost: number;
}

/** One series group of the function metrics: the labels it is exported under and what it holds. */
export interface MetricGroup {
  /** Only the group-by labels of the metrics (service_name + metrics.labels) that the series have. */
  readonly labels: Labels;
  /** Sum of every stack (the remainder row included): exact. */
  total: number;
  /** Money of `total` when priced, else 0. */
  cost: number;
  /** By function name; names, not summary indexes, so later windows may renumber them safely. */
  readonly functions: Map<string, GroupFunction>;
}

/**
 * Folds a window merged by the metric labels plus the labels price rules read (cost.ts priceLabels)
 * into groups by the metric labels alone: each sub-group is priced at its own rate and summed, so a
 * service running on spot and on-demand nodes gets one series whose cost is each part at its price.
 * Without price labels every sub-group is already a metric group and this only sums the functions.
 *
 * Self and total follow the top table (src/query/top.ts): self where the function is the leaf, total
 * once per stack however often it recurses — summed from the cached stack summaries.
 */
export function foldWindow(window: Window, metricLabels: readonly string[], summaries: StackSummaries, rate: ((labels: Labels) => number) | undefined): MetricGroup[] {
  const keep = new Set(metricLabels);
  const out = new Map<string, MetricGroup>();
  for (const g of window.groups) {
    if (g.total === 0) continue;
    const labels = g.group.labels.filter((l) => keep.has(l.name));
    const key = groupKey(labels);
    let m = out.get(key);
    if (!m) out.set(key, (m = { labels, total: 0, cost: 0, functions: new Map() }));
    const r = rate ? rate(g.group.labels) : 0;
    m.total += g.total;
    m.cost += g.total * r;
    const self = new Map<number, number>();
    const total = new Map<number, number>();
    for (const row of g.stacks) {
      const s = window.summaries.get(row.stackId)!;
      self.set(s.leaf, (self.get(s.leaf) ?? 0) + row.value);
      for (const f of s.functions) total.set(f, (total.get(f) ?? 0) + row.value);
    }
    for (const [f, t] of total) {
      const name = summaries.name(f);
      let e = m.functions.get(name);
      if (!e) m.functions.set(name, (e = { name, self: 0, total: 0, selfCost: 0, totalCost: 0 }));
      const s = self.get(f) ?? 0;
      e.self += s;
      e.total += t;
      e.selfCost += s * r;
      e.totalCost += t * r;
    }
  }
  return [...out.values()];
}

/** The key a metric group is known by across windows (labels are sorted, so equal groups give equal keys). */
export function groupKey(labels: Labels): string {
  return JSON.stringify(labels);
}
