import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { parse } from 'yaml';
import { InputError } from '../model/index.js';
import type { AlertingConfig, MetricsConfig, RecordingRule, RemoteWriteConfig } from '../insight/config.js';
import { alertingSection, metricsSection, remoteWriteSection, rulesSection } from '../insight/config.js';
import type { CostConfig } from '../insight/cost.js';
import { costSection } from '../insight/cost.js';
import type { ReportSchedule } from '../insight/report-config.js';
import { reportsSection } from '../insight/report-config.js';
import type { Teams } from '../insight/teams.js';
import { teamsSection } from '../insight/teams.js';
import type { AuthConfig } from '../server/auth-config.js';
import { authSection } from '../server/auth-config.js';
import type { SummariesConfig } from '../insight/summary-config.js';
import { summariesSection } from '../insight/summary-config.js';
import type { LimitsConfig } from '../server/limits.js';
import { limitsSection } from './limits-config.js';
import type { ScrapeConfig } from '../scrape/config.js';
import { scrapeConfigsSection } from '../scrape/config.js';

/**
 * The server's one YAML config file (`kiln server --config kiln.yaml`). Every section is optional,
 * flags override it. This module reads and checks the file; each feature reads its own section.
 * Sections other features add (auth, limits, metrics, rules, …) extend `ServerConfig` here, with
 * their checks, so one bad key is reported with its path before anything starts.
 *
 *   store: { url: "clickhouse://default:@ch:8123/kiln", retention: 90d, clickhouse_cluster: kiln }
 *   store: { data_dir: /var/lib/kiln, retention: 30d }                   # the embedded DuckDB store
 */
export interface ServerConfig {
  readonly store?: StoreConfig;
  /** The Prometheus bridge (src/insight, docs/METRICS.md): function metrics, recording rules, alerts, remote write. */
  readonly metrics?: MetricsConfig;
  readonly rules?: readonly RecordingRule[];
  /** Alert rules (inline `groups:` and `rule_files:`, read when the config is) and where alerts go. */
  readonly alerting?: AlertingConfig;
  readonly remoteWrite?: RemoteWriteConfig;
  /** Ownership, prices and scheduled reports (src/insight, docs/TEAMS-AND-COST.md). */
  readonly teams?: Teams;
  readonly cost?: CostConfig;
  readonly reports?: readonly ReportSchedule[];
  /** Summaries for LLMs: redaction rules and key, token budget (src/insight/summary-config.ts, docs/SUMMARIES.md). */
  readonly summaries?: SummariesConfig;
  /** Tokens, their tenants, roles and scopes (src/server/auth-config.ts, docs/SECURITY.md); absent = an open server. */
  readonly auth?: AuthConfig;
  /** Decode, series, rate and concurrency limits, with per-tenant overrides (src/server/limits.ts). */
  readonly limits?: LimitsConfig;
  /** Pull mode: Prometheus-style jobs of /debug/pprof targets (src/scrape/config.ts), followed on reload. */
  readonly scrapeConfigs?: readonly ScrapeConfig[];
  /** Threads decoding ingest payloads off the event loop (src/server/decode-pool.ts); 0 decodes on it. Read at start, not on reload. */
  readonly workers?: number;
  /** Top-level sections this version does not know: kept so later features can read them, and listed in a warning. */
  readonly unknownSections: readonly string[];
}

export interface StoreConfig {
  /** `clickhouse://user:pass@host:8123/db`, or a data directory. */
  readonly url?: string;
  readonly dataDir?: string;
  /** A duration with a unit (`90d`), or `0`. */
  readonly retention?: string;
  readonly clickhouseCluster?: string;
}

const KNOWN_SECTIONS = new Set(['store', 'metrics', 'rules', 'alerting', 'remote_write', 'teams', 'cost', 'reports', 'summaries', 'limits', 'auth', 'scrape_configs', 'workers']);
/** Sections later features of Kiln define (DESIGN.md, Configuration): not "unknown", just not read here. */
const FUTURE_SECTIONS = new Set<string>([]);

/** Reads and checks the file; an InputError names the file and the bad key. */
export function loadServerConfig(file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseServerConfig(text, file);
}

export function parseServerConfig(text: string, file = 'config'): ServerConfig {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new InputError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { unknownSections: [] };
  const root = objectAt(doc, file, '');
  const unknownSections = Object.keys(root).filter((k) => !KNOWN_SECTIONS.has(k) && !FUTURE_SECTIONS.has(k));
  const section = <T>(key: string, read: (v: unknown, file: string) => T): T | undefined => (root[key] === undefined ? undefined : read(root[key], file));
  return {
    store: section('store', storeSection),
    metrics: section('metrics', metricsSection),
    rules: section('rules', rulesSection),
    alerting: section('alerting', alertingSection),
    remoteWrite: section('remote_write', remoteWriteSection),
    teams: section('teams', teamsSection),
    cost: section('cost', costSection),
    reports: section('reports', reportsSection),
    summaries: section('summaries', summariesSection),
    limits: section('limits', limitsSection),
    scrapeConfigs: section('scrape_configs', scrapeConfigsSection),
    auth: section('auth', authSection),
    workers: section('workers', workersSection),
    unknownSections,
  };
}

function storeSection(v: unknown, file: string): StoreConfig {
  const o = objectAt(v, file, 'store');
  const allowed = new Set(['url', 'data_dir', 'retention', 'clickhouse_cluster']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new InputError(`${file}: store.${k} is not a store setting (known: ${[...allowed].join(', ')})`);
  const cfg: StoreConfig = {
    url: stringAt(o, 'url', file, 'store'),
    dataDir: stringAt(o, 'data_dir', file, 'store'),
    retention: o['retention'] === 0 ? '0' : stringAt(o, 'retention', file, 'store'),
    clickhouseCluster: stringAt(o, 'clickhouse_cluster', file, 'store'),
  };
  if (cfg.url !== undefined && cfg.dataDir !== undefined) throw new InputError(`${file}: give store.url or store.data_dir, not both`);
  return cfg;
}

function workersSection(v: unknown, file: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 256) throw new InputError(`${file}: workers must be a whole number of decode threads from 0 to 256 (0 decodes on the event loop)`);
  return v;
}

function objectAt(v: unknown, file: string, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}: ${path || 'the file'} must be a mapping of keys to values`);
  return v as Record<string, unknown>;
}

function stringAt(o: Record<string, unknown>, key: string, file: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new InputError(`${file}: ${path}.${key} must be a non-empty string`);
  return v;
}

/**
 * Re-reads the file on SIGHUP and when it changes. A file that no longer parses keeps the old config
 * (`onError` says why); a good one is handed to `onChange`. Returns a function that stops watching.
 */
export function watchServerConfig(file: string, onChange: (cfg: ServerConfig) => void, onError: (message: string) => void): () => void {
  const reload = () => {
    try {
      onChange(loadServerConfig(file));
    } catch (e) {
      onError(`config ${file} not reloaded, keeping the previous one: ${(e as Error).message}`);
    }
  };
  const onHup = () => reload();
  process.on('SIGHUP', onHup);
  watchFile(file, { interval: 2000 }, (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs) reload();
  });
  return () => {
    process.off('SIGHUP', onHup);
    unwatchFile(file);
  };
}
