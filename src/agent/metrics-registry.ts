import { escapeHelp, formatLabelSet, formatValue } from '../insight/exposition.js';
import type { Label } from '../model/labels.js';

/**
 * Counters, gauges and histograms for the agent's own /metrics, in Prometheus text format 0.0.4.
 * The agent used prom-client for this; importing it cost ≈ 10 MiB of RSS (its code and what V8 grew
 * to compile it) in a process whose whole budget is 80 MiB, for some thirty series. The exposition is
 * the same: names, HELP, TYPE and label names, unlabelled series shown at 0 from the start, labelled
 * ones once set, histogram buckets cumulative with `le` first.
 */

type LabelValues<L extends string> = Readonly<Record<L, string | number>>;

export interface MetricValue<L extends string> {
  readonly labels: LabelValues<L>;
  readonly value: number;
}

interface MetricOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  /** Registries the metric is shown in (like prom-client's `registers`). */
  readonly registers?: readonly MetricsRegistry[];
  /** Called before each exposition, to refresh values read from elsewhere (the process, V8). */
  readonly collect?: () => void;
}

interface Series<L extends string> {
  readonly labels: LabelValues<L>;
  value: number;
}

/** What the registry needs of every kind of metric. */
interface Exposable {
  readonly name: string;
  collect(): void;
  exposition(): string;
}

abstract class LabelledMetric<L extends string> implements Exposable {
  readonly name: string;
  readonly help: string;
  protected readonly labelNames: readonly L[];
  protected readonly series = new Map<string, Series<L>>();
  private readonly onCollect?: () => void;

  constructor(protected readonly type: 'counter' | 'gauge', opts: MetricOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.onCollect = opts.collect;
    // Unlabelled series exist from the start, so a scrape shows 0 rather than nothing.
    if (this.labelNames.length === 0) this.seriesOf(undefined);
    for (const r of opts.registers ?? []) r.register(this);
  }

  collect(): void {
    this.onCollect?.();
  }

  /** Current values, one per label set (what prom-client's `get()` gave, for tests and checks). */
  get(): { values: MetricValue<L>[] } {
    return { values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }

  /** Forgets every labelled series (e.g. handle types that no longer exist). */
  reset(): void {
    this.series.clear();
    if (this.labelNames.length === 0) this.seriesOf(undefined);
  }

  exposition(): string {
    let out = familyHeader(this.name, this.help, this.type);
    for (const s of this.series.values()) out += `${this.name}${labelText(this.labelNames, s.labels)} ${formatValue(s.value)}\n`;
    return out;
  }

  protected seriesOf(labels: LabelValues<L> | undefined): Series<L> {
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels ?? ({} as LabelValues<L>), value: 0 };
      this.series.set(key, s);
    }
    return s;
  }
}

export class Counter<L extends string = never> extends LabelledMetric<L> {
  constructor(opts: MetricOptions<L>) {
    super('counter', opts);
  }

  inc(by?: number): void;
  inc(labels: LabelValues<L>, by?: number): void;
  inc(a?: number | LabelValues<L>, b?: number): void {
    const [labels, by] = typeof a === 'object' ? [a, b ?? 1] : [undefined, a ?? 1];
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    this.seriesOf(labels).value += by;
  }
}

export class Gauge<L extends string = never> extends LabelledMetric<L> {
  constructor(opts: MetricOptions<L>) {
    super('gauge', opts);
  }

  set(value: number): void;
  set(labels: LabelValues<L>, value: number): void;
  set(a: number | LabelValues<L>, b?: number): void {
    if (typeof a === 'object') this.seriesOf(a).value = b ?? 0;
    else this.seriesOf(undefined).value = a;
  }
}

interface HistogramSeries<L extends string> {
  readonly labels: LabelValues<L>;
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> implements Exposable {
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries<L>>();

  constructor(opts: MetricOptions<L> & { readonly buckets: readonly number[] }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.buckets = [...opts.buckets].sort((x, y) => x - y);
    if (this.labelNames.length === 0) this.seriesOf(undefined);
    for (const r of opts.registers ?? []) r.register(this);
  }

  collect(): void {}

  observe(value: number): void;
  observe(labels: LabelValues<L>, value: number): void;
  observe(a: number | LabelValues<L>, b?: number): void {
    const [labels, value] = typeof a === 'object' ? [a, b ?? 0] : [undefined, a];
    const s = this.seriesOf(labels);
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  exposition(): string {
    let out = familyHeader(this.name, this.help, 'histogram');
    const names: readonly (L | 'le')[] = ['le', ...this.labelNames];
    for (const s of this.series.values()) {
      let cumulative = 0;
      s.counts.forEach((n, i) => {
        cumulative += n;
        out += `${this.name}_bucket${labelText(names, { le: this.bucketBound(i), ...s.labels })} ${cumulative}\n`;
      });
      const own = labelText(this.labelNames, s.labels);
      out += `${this.name}_sum${own} ${formatValue(s.sum)}\n${this.name}_count${own} ${s.count}\n`;
    }
    return out;
  }

  private bucketBound(i: number): string {
    return i < this.buckets.length ? formatValue(this.buckets[i]!) : '+Inf';
  }

  private seriesOf(labels: LabelValues<L> | undefined): HistogramSeries<L> {
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels ?? ({} as LabelValues<L>), counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }
}

export class MetricsRegistry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly metricsByName = new Map<string, Exposable>();

  register(m: Exposable): void {
    if (this.metricsByName.has(m.name)) throw new Error(`metric ${m.name} is registered twice`);
    this.metricsByName.set(m.name, m);
  }

  /** The whole exposition, each family after a refresh of its collected values. */
  async metrics(): Promise<string> {
    const parts: string[] = [];
    for (const m of this.metricsByName.values()) {
      m.collect();
      parts.push(m.exposition());
    }
    return parts.join('\n');
  }
}

function familyHeader(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

function seriesKey<L extends string>(names: readonly L[], labels: LabelValues<L> | undefined): string {
  if (names.length === 0) return '';
  if (!labels) throw new Error(`labels ${names.join(', ')} are required`);
  // One label (most of the agent's series, updated every poll and interval): the value is the key, no array or join.
  if (names.length === 1) return String(labels[names[0]!] ?? '');
  return names.map((n) => String(labels[n] ?? '')).join('\u0000');
}

/** `{a="x",b="y"}` in the metric's label order; labels never set are left out, as prom-client did. */
function labelText<L extends string>(names: readonly L[], labels: LabelValues<L>): string {
  const pairs: Label[] = [];
  for (const n of names) if (labels[n] !== undefined) pairs.push({ name: n, value: String(labels[n]) });
  return formatLabelSet(pairs);
}
