import { labelsFrom } from '../model/labels.js';
import { DEFAULT_TENANT } from '../server/tenant.js';
import type { Store, TimeRange } from '../store/store.js';
import type { AlertPayload } from './alert-rules.js';
import { AlertRuleState } from './alert-rules.js';
import { postAlerts } from './alertmanager.js';
import type { AlertingConfig, MetricsConfig, RecordingRule, RemoteWriteConfig } from './config.js';
import { DEFAULT_METRICS } from './config.js';
import type { MetricFamily, MetricSample } from './exposition.js';
import { renderExposition } from './exposition.js';
import type { FlameOrigin } from './flame-link.js';
import { flameGraphUrl } from './flame-link.js';
import { AnomalyBaselines } from './bridge-anomaly.js';
import type { CostConfig } from './cost.js';
import { computeFunctionMetrics } from './function-metrics.js';
import { computeRecordingRule } from './recording-rules.js';
import { StackSummaries } from './stack-summaries.js';
import type { WriteSeries } from './remote-write.js';
import { familiesToSeries, remoteWrite, staleNaN } from './remote-write.js';

/** The sections of kiln.yaml this module runs (see config.ts), and the prices the cost series use. */
export interface InsightSettings {
  readonly metrics: MetricsConfig;
  readonly cost?: CostConfig;
  readonly rules: readonly RecordingRule[];
  readonly alerting: AlertingConfig | undefined;
  readonly remoteWrite: RemoteWriteConfig | undefined;
}

export const DEFAULT_INSIGHT: InsightSettings = { metrics: DEFAULT_METRICS, rules: [], alerting: undefined, remoteWrite: undefined };

export interface EvaluatorDeps {
  readonly store: Store;
  /** Base URL of Kiln's UI for flame-graph links when alerting.external_url is not set. */
  readonly externalUrl: string;
  /** Kiln's own health metrics, read only when an alert rule names one of them. */
  readonly ownMetrics?: () => Promise<Map<string, MetricSample[]>>;
  readonly log: (message: string) => void;
  /** The clock (tests); Date.now by default. */
  readonly now?: () => number;
}

/** What one evaluation did, for tests, the bench and Kiln's own metrics. */
export interface EvaluationReport {
  readonly atMs: number;
  readonly range: TimeRange;
  readonly seriesExported: number;
  readonly seriesCut: number;
  readonly storeMs: number;
  readonly alertsSent: number;
  readonly errors: readonly string[];
}

interface RuleSlot {
  readonly key: string;
  readonly state: AlertRuleState;
  readonly group: string;
  readonly groupIntervalMs: number | undefined;
}

/**
 * Runs the Prometheus bridge in the background: every `metrics.interval` it reads the window from the
 * store once (function metrics and recording rules), renders the exposition text that every /metrics
 * scrape is then served (a scrape never touches the store), evaluates the alert rules over those
 * figures and sends what changed to Alertmanager, and pushes the series to remote write. A reload
 * (`apply`) takes effect at the next evaluation; alert rules that survive a reload keep their state,
 * so a pending `for:` is not restarted.
 */
export class InsightEvaluator {
  private settings: InsightSettings = DEFAULT_INSIGHT;
  private text = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<EvaluationReport> | undefined;
  private abort = new AbortController();
  private stopped = true;
  private slots: RuleSlot[] = [];
  private readonly groupLastEval = new Map<string, number>();
  private lastWritten = new Map<string, WriteSeries>();
  private readonly lastErrors = new Map<string, string>();
  private readonly counters = { evaluations: 0, failures: 0, cutTotal: 0, notifications: 0, notificationFailures: 0, remoteWrites: 0, remoteWriteFailures: 0 };
  private last: EvaluationReport | undefined;
  /** Stacks seen in earlier windows, shared by the function metrics and every rule. */
  private readonly summaries = new StackSummaries();
  /** The anomaly metric's baselines (past days' windows), re-read every few minutes rather than every evaluation. */
  private readonly baselines = new AnomalyBaselines();
  private readonly now: () => number;

  constructor(private readonly deps: EvaluatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The exposition text of the last evaluation (appended to /metrics). */
  exposition(): string {
    return this.text;
  }

  lastReport(): EvaluationReport | undefined {
    return this.last;
  }

  /** Takes new settings (start-up or a reload); alert rules with the same group, name and expression keep their state. */
  apply(next: InsightSettings): void {
    const old = new Map(this.slots.map((s) => [s.key, s]));
    const slots: RuleSlot[] = [];
    for (const g of next.alerting?.groups ?? []) {
      for (const rule of g.rules) {
        const key = JSON.stringify([g.name, rule.alert, rule.expr.text, rule.forMs]);
        const kept = old.get(key);
        old.delete(key);
        slots.push({ key, state: kept?.state ?? new AlertRuleState(rule), group: g.name, groupIntervalMs: g.intervalMs });
      }
    }
    const removed = [...old.values()];
    const intervalChanged = next.metrics.intervalMs !== this.settings.metrics.intervalMs;
    // Resolutions of removed rules go where their alerts went, even when alerting itself was removed.
    const previousAlerting = this.settings.alerting;
    this.settings = next;
    this.slots = slots;
    this.baselines.clear();
    if (removed.length > 0) void this.resolveRemoved(removed, next.alerting?.alertmanagerUrl ? next.alerting : previousAlerting);
    if (intervalChanged && !this.stopped) this.schedule(0);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort(new Error('kiln server is stopping'));
    await this.running?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const started = this.now();
      void this.evaluate().finally(() => {
        // The next evaluation starts one interval after this one started, never overlapping it.
        if (!this.stopped && !this.timer) this.schedule(Math.max(0, started + this.settings.metrics.intervalMs - this.now()));
      });
    }, delayMs);
    this.timer.unref?.();
  }

  /** One evaluation now (the background loop calls this; tests and the bench may too). Never rejects. */
  evaluate(): Promise<EvaluationReport> {
    if (this.running) return this.running;
    this.running = this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<EvaluationReport> {
    const s = this.settings;
    const atMs = this.now();
    const range = { from: atMs - s.metrics.delayMs - s.metrics.windowMs, to: atMs - s.metrics.delayMs };
    // A store that hangs must not stall the loop for good: an evaluation gets a few intervals at most,
    // then its reads are aborted (inside the engine) and the next evaluation starts afresh.
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(30_000, 4 * s.metrics.intervalMs))]);
    const errors: string[] = [];
    const families: MetricFamily[] = [];
    let cut = 0;
    const storeStart = performance.now();
    if (s.metrics.enabled) {
      try {
        const fm = await computeFunctionMetrics(this.deps.store, this.summaries, s.metrics, s.metrics.tenants ?? [DEFAULT_TENANT], range, signal, {
          cost: s.cost,
          baselines: this.baselines,
        });
        families.push(...fm.families);
        cut = fm.cut;
        this.ok('function metrics');
      } catch (e) {
        errors.push(this.failed('function metrics', e));
      }
    }
    for (const rule of s.rules) {
      try {
        families.push(await computeRecordingRule(this.deps.store, this.summaries, rule, s.metrics.maxStacks, range, signal));
        this.ok(`recording rule ${rule.record}`);
      } catch (e) {
        errors.push(this.failed(`recording rule ${rule.record}`, e));
      }
    }
    const storeMs = performance.now() - storeStart;
    const exported = families.reduce((n, f) => n + f.samples.length, 0);
    this.counters.evaluations++;
    if (errors.length > 0) this.counters.failures++;
    this.counters.cutTotal += cut;

    const alertsSent = await this.runAlerts(atMs, families, errors);
    if (s.remoteWrite) await this.pushRemote(s.remoteWrite, families, atMs, errors);
    const report: EvaluationReport = { atMs, range, seriesExported: exported, seriesCut: cut, storeMs, alertsSent, errors };
    this.last = report;
    this.text = renderExposition([...families, ...this.ownFamilies(report)]);
    return report;
  }

  private async runAlerts(atMs: number, families: readonly MetricFamily[], errors: string[]): Promise<number> {
    const alerting = this.settings.alerting;
    if (!alerting || this.slots.length === 0) return 0;
    const metrics = new Map<string, readonly MetricSample[]>(families.map((f) => [f.name, f.samples]));
    const wantsOwn = this.slots.some((s) => s.state.rule.expr.metric === undefined || !metrics.has(s.state.rule.expr.metric));
    if (wantsOwn && this.deps.ownMetrics) {
      try {
        for (const [name, samples] of await this.deps.ownMetrics()) if (!metrics.has(name)) metrics.set(name, samples);
      } catch (e) {
        errors.push(this.failed('reading Kiln health metrics for alerts', e));
      }
    }
    const externalUrl = alerting.externalUrl ?? this.deps.externalUrl;
    const m = this.settings.metrics;
    const timing = {
      resendDelayMs: alerting.resendDelayMs,
      intervalMs: m.intervalMs,
      externalUrl,
      // The window that fired: from the start of the window in which the condition first held to the
      // end of the one in which it fired, so the flame graph shows what was burning all along.
      linkFor: (origin: FlameOrigin, activeAtMs: number, nowMs: number) => flameGraphUrl(externalUrl, origin, activeAtMs - m.delayMs - m.windowMs, nowMs - m.delayMs),
    };
    const payloads: AlertPayload[] = [];
    const sentBy: RuleSlot[] = [];
    const due = new Set<string>();
    for (const slot of this.slots) {
      const last = this.groupLastEval.get(slot.group);
      // A group's own interval: skipped until it is (nearly: timers drift) due again.
      if (slot.groupIntervalMs !== undefined && last !== undefined && atMs - last < slot.groupIntervalMs * 0.9) continue;
      due.add(slot.group);
      const out = slot.state.evaluate(atMs, metrics, timing);
      if (out.length > 0) sentBy.push(slot);
      payloads.push(...out);
    }
    for (const g of due) this.groupLastEval.set(g, atMs);
    if (payloads.length === 0 || !alerting.alertmanagerUrl) return 0;
    try {
      await postAlerts(alerting.alertmanagerUrl, payloads, alerting.timeoutMs);
      this.counters.notifications += payloads.length;
      this.ok('alertmanager');
      return payloads.length;
    } catch (e) {
      // Sent again at the next evaluation: Alertmanager deduplicates by labels.
      for (const s of sentBy) s.state.markUnsent();
      this.counters.notificationFailures += payloads.length;
      errors.push(this.failed('alertmanager', e));
      return 0;
    }
  }

  /** Rules dropped by a reload: their firing alerts are resolved now rather than left to time out. */
  private async resolveRemoved(removed: readonly RuleSlot[], alerting: AlertingConfig | undefined): Promise<void> {
    const url = alerting?.alertmanagerUrl;
    if (!alerting || !url) return;
    const atMs = this.now();
    const timing = { resendDelayMs: alerting.resendDelayMs, intervalMs: this.settings.metrics.intervalMs, externalUrl: alerting.externalUrl ?? this.deps.externalUrl, linkFor: () => '' };
    const payloads = removed.flatMap((s) => s.state.evaluate(atMs, new Map(), timing));
    if (payloads.length === 0) return;
    await postAlerts(url, payloads, alerting.timeoutMs).catch((e: unknown) => this.failed('alertmanager', e));
  }

  private async pushRemote(rw: RemoteWriteConfig, families: readonly MetricFamily[], atMs: number, errors: string[]): Promise<void> {
    const current = new Map<string, WriteSeries>();
    for (const s of familiesToSeries(families)) current.set(JSON.stringify(s.labels), s);
    const series = [...current.values()];
    // Series gone since the last push get Prometheus' stale marker, as a scrape would mark them.
    for (const [key, s] of this.lastWritten) if (!current.has(key)) series.push({ labels: s.labels, value: staleNaN() });
    try {
      await remoteWrite(rw.url, rw.headers, series, atMs, rw.timeoutMs);
      this.lastWritten = current;
      this.counters.remoteWrites++;
      this.ok('remote write');
    } catch (e) {
      this.counters.remoteWriteFailures++;
      errors.push(this.failed('remote write', e));
    }
  }

  /** Kiln's figures about the bridge itself, served beside the function metrics. */
  private ownFamilies(r: EvaluationReport): MetricFamily[] {
    const g = (name: string, help: string, value: number, type: 'gauge' | 'counter' = 'gauge'): MetricFamily => ({ name, help, type, samples: [{ labels: [], value }] });
    const alerts: MetricSample[] = [];
    for (const slot of this.slots) {
      const c = slot.state.counts();
      for (const state of ['pending', 'firing'] as const) alerts.push({ labels: labelsFrom({ alertname: slot.state.rule.alert, group: slot.group, state }), value: c[state] });
    }
    const c = this.counters;
    return [
      g('kiln_function_series', 'Function, service and recording-rule series exported at the last evaluation.', r.seriesExported),
      g('kiln_function_series_cut', 'Series the last evaluation cut to stay within metrics.max_series.', r.seriesCut),
      g('kiln_function_series_cut_total', 'Series cut by metrics.max_series, summed over every evaluation.', c.cutTotal, 'counter'),
      g('kiln_insight_evaluations_total', 'Evaluations of function metrics, recording rules and alerts.', c.evaluations, 'counter'),
      g('kiln_insight_evaluation_failures_total', 'Evaluations in which some part failed (the server log says which).', c.failures, 'counter'),
      g('kiln_insight_last_evaluation_timestamp_seconds', 'When the figures served here were computed (Unix seconds).', r.atMs / 1000),
      g('kiln_insight_store_seconds', 'Time the last evaluation spent reading the window from the store.', r.storeMs / 1000),
      g('kiln_alert_notifications_total', 'Alerts sent to Alertmanager.', c.notifications, 'counter'),
      g('kiln_alert_notifications_failed_total', 'Alerts that could not be delivered to Alertmanager (re-sent at the next evaluation).', c.notificationFailures, 'counter'),
      g('kiln_remote_write_requests_total', 'Successful remote-write pushes.', c.remoteWrites, 'counter'),
      g('kiln_remote_write_failures_total', 'Failed remote-write pushes.', c.remoteWriteFailures, 'counter'),
      { name: 'kiln_alerts', help: 'Alerts of each Kiln alert rule, by state.', type: 'gauge', samples: alerts },
    ];
  }

  private ok(part: string): void {
    if (this.lastErrors.delete(part)) this.deps.log(`${part}: working again`);
  }

  /** Logs a failure once until it changes or clears (an evaluation every 15 s must not flood the log). */
  private failed(part: string, e: unknown): string {
    const message = `${part}: ${(e as Error).message ?? String(e)}`;
    if (this.lastErrors.get(part) !== message) this.deps.log(message);
    this.lastErrors.set(part, message);
    return message;
  }
}
