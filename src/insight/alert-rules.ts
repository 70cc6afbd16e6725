import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { isValidLabelName, labelsFrom, labelsToRecord } from '../model/labels.js';
import type { AlertExpr } from './alert-expr.js';
import { evaluateAlertExpr, parseAlertExpr } from './alert-expr.js';
import type { MetricSample } from './exposition.js';
import type { FlameOrigin } from './flame-link.js';
import type { Template } from './template.js';
import { parseTemplate } from './template.js';
import { Section } from './yaml-section.js';

/**
 * Alert rules in Prometheus' rule-file syntax, so one file serves Kiln and Prometheus alike:
 *
 *   groups:
 *     - name: kiln
 *       rules:
 *         - alert: JsonMarshalHot
 *           expr: kiln:json_marshal:cpu_cores > 0.5
 *           for: 30s
 *           labels: { severity: page }
 *           annotations: { summary: "{{ $labels.service_name }} spends {{ $value | humanize }} cores in json.Marshal" }
 *
 * and Prometheus' alert life cycle: a series that passes the expression makes an alert *pending*; held
 * for `for:` it *fires*; once it no longer passes, a firing alert is *resolved* (a pending one simply
 * goes away). Kiln evaluates `expr` with alert-expr.ts (thresholds over its own metrics).
 */
export interface AlertRule {
  readonly group: string;
  readonly alert: string;
  readonly expr: AlertExpr;
  readonly forMs: number;
  readonly labels: ReadonlyMap<string, Template>;
  readonly annotations: ReadonlyMap<string, Template>;
}

export interface AlertGroup {
  readonly name: string;
  /** The group's own `interval:`; undefined = every evaluation of Kiln's metrics. */
  readonly intervalMs: number | undefined;
  readonly rules: readonly AlertRule[];
}

const ALERT_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Reads a Prometheus rule file (relative paths from `baseDir`); errors name the file and the key. */
export function loadRuleFile(file: string, baseDir: string): AlertGroup[] {
  const full = path.resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read rule file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new InputError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const root = Section.of(doc, file, '');
  root.allowOnly(['groups']);
  return parseRuleGroups(root);
}

/** The `groups:` list of a rule file (or of `alerting:` in kiln.yaml). */
export function parseRuleGroups(parent: Section): AlertGroup[] {
  const seen = new Set<string>();
  return parent.sections('groups').map((g) => {
    g.allowOnly(['name', 'interval', 'rules', 'limit']);
    const name = g.requiredString('name');
    if (seen.has(name)) throw new InputError(`${g.where('name')}: group "${name}" is defined twice`);
    seen.add(name);
    const intervalMs = g.has('interval') ? g.duration('interval', 0, 1000) : undefined;
    return { name, intervalMs, rules: g.sections('rules').map((r) => parseRule(r, name)) };
  });
}

function parseRule(r: Section, group: string): AlertRule {
  if (r.has('record')) {
    throw new InputError(
      `${r.where('record')}: Kiln evaluates alert rules; a PromQL recording rule needs Prometheus (recording rules over profiles go under rules: in kiln.yaml)`,
    );
  }
  r.allowOnly(['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for']);
  const alert = r.requiredString('alert');
  if (!ALERT_NAME.test(alert)) throw new InputError(`${r.where('alert')}: "${alert}" is not a valid alert name ([a-zA-Z_][a-zA-Z0-9_]*)`);
  const exprText = r.raw('expr');
  if (typeof exprText !== 'string' && typeof exprText !== 'number') throw new InputError(`${r.where('expr')} is missing`);
  let expr: AlertExpr;
  try {
    expr = parseAlertExpr(String(exprText));
  } catch (e) {
    throw new InputError(`${r.where('expr')}: ${(e as Error).message}`);
  }
  if (r.has('keep_firing_for')) throw new InputError(`${r.where('keep_firing_for')}: not supported by Kiln's evaluator`);
  const templates = (key: string): Map<string, Template> => {
    const out = new Map<string, Template>();
    for (const [k, v] of Object.entries(r.stringMap(key))) {
      if (!isValidLabelName(k)) throw new InputError(`${r.where(`${key}.${k}`)}: not a valid label name`);
      out.set(k, parseTemplate(v, r.where(`${key}.${k}`)));
    }
    return out;
  };
  return { group, alert, expr, forMs: r.duration('for', 0, 0), labels: templates('labels'), annotations: templates('annotations') };
}

/** An alert as Alertmanager's v2 API takes it. */
export interface AlertPayload {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

interface ActiveAlert {
  labels: Labels;
  annotations: Record<string, string>;
  value: number;
  origin: FlameOrigin | undefined;
  activeAtMs: number;
  firedAtMs?: number;
  resolvedAtMs?: number;
  lastSentMs?: number;
  /** The flame graph of the window that fired, fixed when it fires. */
  link?: string;
}

export interface AlertTiming {
  /** Re-send firing (and resolved) alerts this often, as Prometheus does (1m): Alertmanager forgets silent ones. */
  readonly resendDelayMs: number;
  /** How often rules are evaluated, for the validity a firing alert is sent with. */
  readonly intervalMs: number;
  readonly externalUrl: string;
  /** The flame-graph link of an alert that fires now, from its origin and when it became active. */
  readonly linkFor: (origin: FlameOrigin, activeAtMs: number, nowMs: number) => string;
}

/** Prometheus keeps resolved alerts and re-sends them for 15 minutes, so a lost notification heals. */
const RESOLVED_RETENTION_MS = 15 * 60_000;

export const FLAMEGRAPH_ANNOTATION = 'flamegraph_url';

/** The state of one rule's alerts between evaluations. */
export class AlertRuleState {
  private readonly active = new Map<string, ActiveAlert>();

  constructor(readonly rule: AlertRule) {}

  /** One evaluation at `nowMs` over the current metrics; returns the alerts to send to Alertmanager now. */
  evaluate(nowMs: number, metrics: ReadonlyMap<string, readonly MetricSample[]>, t: AlertTiming): AlertPayload[] {
    const seen = new Set<string>();
    for (const { sample } of evaluateAlertExpr(this.rule.expr, metrics)) {
      const base = labelsToRecord(sample.labels);
      const data = { labels: base, value: sample.value, externalUrl: t.externalUrl };
      const extra: Record<string, string> = {};
      for (const [k, tpl] of this.rule.labels) extra[k] = tpl.render(data);
      // Prometheus: the series' labels minus __name__, then the rule's labels, then alertname.
      const labels = labelsFrom({ ...base, ...extra, alertname: this.rule.alert });
      const key = JSON.stringify(labels);
      if (seen.has(key)) continue;
      seen.add(key);
      const annotations: Record<string, string> = {};
      for (const [k, tpl] of this.rule.annotations) annotations[k] = tpl.render({ ...data, labels: labelsToRecord(labels) });
      let a = this.active.get(key);
      if (!a || a.resolvedAtMs !== undefined) {
        a = { labels, annotations, value: sample.value, origin: sample.origin, activeAtMs: nowMs };
        this.active.set(key, a);
      }
      a.annotations = annotations;
      a.value = sample.value;
      a.origin = sample.origin ?? a.origin;
      if (a.firedAtMs === undefined && nowMs - a.activeAtMs >= this.rule.forMs) {
        a.firedAtMs = nowMs;
        if (a.origin) a.link = t.linkFor(a.origin, a.activeAtMs, nowMs);
      }
    }
    const out: AlertPayload[] = [];
    const validity = 4 * Math.max(t.intervalMs, t.resendDelayMs);
    for (const [key, a] of this.active) {
      if (!seen.has(key) && a.resolvedAtMs === undefined) {
        if (a.firedAtMs === undefined) {
          this.active.delete(key);
          continue;
        }
        a.resolvedAtMs = nowMs;
        a.lastSentMs = undefined;
      }
      if (a.firedAtMs === undefined) continue;
      if (a.resolvedAtMs !== undefined && nowMs - a.resolvedAtMs > RESOLVED_RETENTION_MS) {
        this.active.delete(key);
        continue;
      }
      if (a.lastSentMs !== undefined && nowMs - a.lastSentMs < t.resendDelayMs) continue;
      a.lastSentMs = nowMs;
      const annotations = { ...(a.link ? { [FLAMEGRAPH_ANNOTATION]: a.link } : {}), ...a.annotations };
      out.push({
        labels: labelsToRecord(a.labels),
        annotations,
        startsAt: new Date(a.firedAtMs).toISOString(),
        endsAt: new Date(a.resolvedAtMs ?? nowMs + validity).toISOString(),
        ...(a.link ? { generatorURL: a.link } : {}),
      });
    }
    return out;
  }

  /** Alerts by state, for Kiln's own metrics. */
  counts(): { pending: number; firing: number } {
    let pending = 0;
    let firing = 0;
    for (const a of this.active.values()) {
      if (a.resolvedAtMs !== undefined) continue;
      if (a.firedAtMs === undefined) pending++;
      else firing++;
    }
    return { pending, firing };
  }

  /** Forget that alerts were sent, so the next evaluation sends them all (after a failed delivery). */
  markUnsent(): void {
    for (const a of this.active.values()) a.lastSentMs = undefined;
  }
}
