import type { Labels } from '../model/labels.js';
import type { FlameOrigin } from './flame-link.js';

/** One series of a metric: its labels (sorted, without `__name__`) and current value. */
export interface MetricSample {
  readonly labels: Labels;
  readonly value: number;
  /** The profiles behind the figure, for the flame-graph link of an alert; absent for Kiln's own health metrics. */
  readonly origin?: FlameOrigin;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly samples: readonly MetricSample[];
}

/**
 * Prometheus text exposition (format 0.0.4) of some families. Rendered once per evaluation and served
 * as a string to every scrape, so a scrape costs a string copy, not a formatting pass per series.
 * No timestamps: Prometheus stamps the scrape time and marks a series stale when it disappears.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const parts: string[] = [];
  for (const f of families) {
    parts.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
    for (const s of f.samples) parts.push(`${f.name}${formatLabelSet(s.labels)} ${formatValue(s.value)}\n`);
  }
  return parts.join('');
}

export function formatLabelSet(labels: Labels): string {
  if (labels.length === 0) return '';
  let out = '{';
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    out += `${i > 0 ? ',' : ''}${l.name}="${escapeLabelValue(l.value)}"`;
  }
  return `${out}}`;
}

/** The three escapes the text format defines for label values: backslash, double quote, newline. */
function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's spellings of the special floats, which Prometheus' parser expects. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
