import path from 'node:path';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { SERVICE_NAME, isValidLabelName, labelsFrom } from '../model/labels.js';
import type { CompiledRegex, Selector } from '../model/matcher.js';
import { compileRegex } from '../model/matcher.js';
import type { ProfileType } from '../model/profile-type.js';
import { CPU_TYPE, parseProfileType, profileTypeId } from '../model/profile-type.js';
import { parseSelector } from '../query/selector.js';
import { DEFAULT_TENANT } from '../server/tenant.js';
import type { AlertGroup } from './alert-rules.js';
import { loadRuleFile, parseRuleGroups } from './alert-rules.js';
import type { MetricUnit } from './metric-names.js';
import { FUNCTION_PREFIX, SERVICE_PREFIX, isMetricName, metricUnit } from './metric-names.js';
import { Section } from './yaml-section.js';

/**
 * The settings of Kiln's Prometheus bridge, four sections of kiln.yaml (see docs/METRICS.md):
 *
 *   metrics: { top_n: 10, window: 1m, interval: 15s, delay: 15s, labels: [namespace, team],
 *              profile_types: [process_cpu:cpu:nanoseconds:cpu:nanoseconds], max_series: 10000, max_stacks: 2000 }
 *   rules:   [ { record: "kiln:json_marshal:cpu_cores", selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}',
 *                function: 'encoding/json\.Marshal', kind: total, group_by: [service_name] } ]
 *   alerting: { alertmanager_url: http://alertmanager:9093, external_url: http://kiln:4040,
 *               rule_files: [kiln-alerts.yaml], groups: [ … ] }
 *   remote_write: { url: http://prometheus:9090/api/v1/write }
 */
export interface MetricsConfig {
  /** false: no function metrics (recording rules and alerts still run). */
  readonly enabled: boolean;
  readonly topN: number;
  /** The sliding window each figure is an average over. */
  readonly windowMs: number;
  /** How often figures are recomputed (scrapes in between are served from the last result). */
  readonly intervalMs: number;
  /**
   * The window ends this long before now: SDKs and the agent push a profile every ~10 s stamped with
   * the start of its period, so the last seconds before now are always incomplete.
   */
  readonly delayMs: number;
  /** Labels besides service_name that split the figures (e.g. namespace, team). */
  readonly labels: readonly string[];
  readonly profileTypes: readonly TypeMetric[];
  /** At most this many series (service and function) are exported; the rest are cut and counted. */
  readonly maxSeries: number;
  /** Stacks read per group from the store (the heaviest); lighter stacks count in the service total only. */
  readonly maxStacks: number;
  /** Tenants to export; when given, every series carries a `tenant` label. */
  readonly tenants: readonly string[] | undefined;
  /** Days of baseline for the anomaly score metric (the same window on each past day); 0: no anomaly metric. */
  readonly anomalyDays: number;
}

export interface TypeMetric {
  readonly type: ProfileType;
  readonly id: string;
  readonly unit: MetricUnit;
}

export interface RecordingRule {
  readonly record: string;
  readonly selector: Selector;
  readonly selectorText: string;
  /** Anchored RE2 on function names; undefined = the whole selection. */
  readonly functionPattern: string | undefined;
  readonly functionRegex: CompiledRegex | undefined;
  /** self: the function is the leaf (running itself); total: it is anywhere on the stack. */
  readonly kind: 'self' | 'total';
  readonly groupBy: readonly string[];
  readonly labels: Labels;
  readonly unit: MetricUnit;
  readonly tenant: string;
}

export interface AlertingConfig {
  readonly alertmanagerUrl: string | undefined;
  /** Base of the flame-graph links alerts carry; default http://<hostname>:<port>. */
  readonly externalUrl: string | undefined;
  readonly groups: readonly AlertGroup[];
  readonly resendDelayMs: number;
  readonly timeoutMs: number;
}

export interface RemoteWriteConfig {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export const DEFAULT_METRICS: MetricsConfig = {
  enabled: true,
  topN: 10,
  windowMs: 60_000,
  intervalMs: 15_000,
  delayMs: 15_000,
  labels: [],
  profileTypes: [typeMetric(CPU_TYPE)],
  maxSeries: 10_000,
  maxStacks: 2_000,
  tenants: undefined,
  anomalyDays: 7,
};

function typeMetric(type: ProfileType): TypeMetric {
  return { type, id: profileTypeId(type), unit: metricUnit(type) };
}

export function metricsSection(v: unknown, file: string): MetricsConfig {
  const s = Section.of(v, file, 'metrics');
  s.allowOnly(['enabled', 'top_n', 'window', 'interval', 'delay', 'labels', 'profile_types', 'max_series', 'max_stacks', 'tenants', 'anomaly_days']);
  const labels = s.stringList('labels') ?? [];
  for (const l of labels) {
    if (!isValidLabelName(l)) throw new InputError(`${s.where('labels')}: "${l}" is not a label name`);
    if (l === SERVICE_NAME || l === 'function' || l === 'kind' || l === 'tenant' || l === 'currency') {
      throw new InputError(`${s.where('labels')}: "${l}" is already a label of every function metric`);
    }
  }
  const types = (s.stringList('profile_types') ?? [DEFAULT_METRICS.profileTypes[0]!.id]).map((id) => {
    try {
      return typeMetric(parseProfileType(id));
    } catch (e) {
      throw new InputError(`${s.where('profile_types')}: ${(e as Error).message}`);
    }
  });
  const bySuffix = new Map<string, string>();
  for (const t of types) {
    const other = bySuffix.get(t.unit.suffix);
    if (other !== undefined) throw new InputError(`${s.where('profile_types')}: ${other} and ${t.id} would both export ${FUNCTION_PREFIX}${t.unit.suffix}`);
    bySuffix.set(t.unit.suffix, t.id);
  }
  const windowMs = s.duration('window', DEFAULT_METRICS.windowMs, 1000);
  return {
    enabled: s.boolean('enabled', true),
    topN: s.int('top_n', DEFAULT_METRICS.topN, 1, 10_000),
    windowMs,
    intervalMs: s.duration('interval', DEFAULT_METRICS.intervalMs, 1000),
    delayMs: s.duration('delay', DEFAULT_METRICS.delayMs, 0),
    labels,
    profileTypes: types,
    maxSeries: s.int('max_series', DEFAULT_METRICS.maxSeries, 1, 10_000_000),
    maxStacks: s.int('max_stacks', DEFAULT_METRICS.maxStacks, 1, 1_000_000),
    tenants: s.stringList('tenants'),
    anomalyDays: s.int('anomaly_days', DEFAULT_METRICS.anomalyDays, 0, 90),
  };
}

export function rulesSection(v: unknown, file: string): RecordingRule[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new InputError(`${file}: rules must be a list of recording rules`);
  const root = Section.of({ rules: v }, file, '');
  const names = new Set<string>();
  return root.sections('rules').map((r) => {
    r.allowOnly(['record', 'selector', 'function', 'kind', 'group_by', 'labels', 'tenant']);
    const record = r.requiredString('record');
    if (!isMetricName(record)) throw new InputError(`${r.where('record')}: "${record}" is not a Prometheus metric name`);
    if (record.startsWith(FUNCTION_PREFIX) || record.startsWith(SERVICE_PREFIX)) throw new InputError(`${r.where('record')}: names starting ${FUNCTION_PREFIX} or ${SERVICE_PREFIX} belong to the function metrics`);
    if (names.has(record)) throw new InputError(`${r.where('record')}: "${record}" is recorded twice`);
    names.add(record);
    const selectorText = r.requiredString('selector');
    let selector: Selector;
    let unit: MetricUnit;
    try {
      selector = parseSelector(selectorText);
      unit = metricUnit(parseProfileType(selector.profileType));
    } catch (e) {
      throw new InputError(`${r.where('selector')}: ${(e as Error).message}`);
    }
    const functionPattern = r.string('function');
    let functionRegex: CompiledRegex | undefined;
    if (functionPattern !== undefined) {
      try {
        functionRegex = compileRegex(functionPattern, { anchored: true });
      } catch (e) {
        throw new InputError(`${r.where('function')}: ${(e as Error).message}`);
      }
    }
    const kind = r.string('kind') ?? 'total';
    if (kind !== 'self' && kind !== 'total') throw new InputError(`${r.where('kind')} must be self or total`);
    if (kind === 'self' && functionPattern === undefined) throw new InputError(`${r.where('kind')}: self needs a function pattern`);
    const groupBy = r.stringList('group_by') ?? [];
    for (const g of groupBy) if (!isValidLabelName(g)) throw new InputError(`${r.where('group_by')}: "${g}" is not a label name`);
    const labels = r.stringMap('labels');
    for (const k of Object.keys(labels)) {
      if (!isValidLabelName(k)) throw new InputError(`${r.where('labels')}: "${k}" is not a label name`);
      if (groupBy.includes(k)) throw new InputError(`${r.where('labels')}: "${k}" is also in group_by`);
    }
    return { record, selector, selectorText, functionPattern, functionRegex, kind, groupBy, labels: labelsFrom(labels), unit, tenant: r.string('tenant') ?? DEFAULT_TENANT };
  });
}

export function alertingSection(v: unknown, file: string): AlertingConfig {
  const s = Section.of(v, file, 'alerting');
  s.allowOnly(['alertmanager_url', 'external_url', 'rule_files', 'groups', 'resend_delay', 'timeout']);
  const alertmanagerUrl = httpUrl(s, 'alertmanager_url');
  const externalUrl = httpUrl(s, 'external_url');
  // Relative rule files are found beside the config file, as Prometheus finds its rule_files.
  const baseDir = path.dirname(path.resolve(file));
  const groups = [...parseRuleGroups(s), ...(s.stringList('rule_files') ?? []).flatMap((f) => loadRuleFile(f, baseDir))];
  const names = new Set<string>();
  for (const g of groups) {
    if (names.has(g.name)) throw new InputError(`${s.where('rule_files')}: rule group "${g.name}" is defined twice`);
    names.add(g.name);
  }
  if (groups.length > 0 && alertmanagerUrl === undefined) throw new InputError(`${s.where('alertmanager_url')} is missing: alert rules need somewhere to send alerts`);
  return {
    alertmanagerUrl,
    externalUrl,
    groups,
    resendDelayMs: s.duration('resend_delay', 60_000, 1000),
    timeoutMs: s.duration('timeout', 10_000, 100),
  };
}

export function remoteWriteSection(v: unknown, file: string): RemoteWriteConfig {
  const s = Section.of(v, file, 'remote_write');
  s.allowOnly(['url', 'headers', 'timeout']);
  const url = httpUrl(s, 'url');
  if (url === undefined) throw new InputError(`${s.where('url')} is missing`);
  return { url, headers: s.stringMap('headers'), timeoutMs: s.duration('timeout', 10_000, 100) };
}

/** A base URL; trailing slashes dropped so paths can be appended. */
function httpUrl(s: Section, key: string): string | undefined {
  return s.httpUrl(key)?.replace(/\/+$/, '');
}
