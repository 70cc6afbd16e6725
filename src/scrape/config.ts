import { InputError } from '../model/errors.js';
import { compileRelabelConfigs } from '../model/relabel.js';
import { parseDuration } from '../query/time.js';
import { resolveTargets, type JobDiscovery, type PprofEndpoint, type ScrapeTarget, type StaticTargets } from './targets.js';

export type { PprofEndpoint, ScrapeTarget, StaticTargets } from './targets.js';

/** A job of `scrape_configs:`, read and checked, with its targets resolved through its relabel rules. */
export interface ScrapeConfig extends JobDiscovery {
  readonly targets: readonly ScrapeTarget[];
  readonly droppedTargets: readonly Readonly<Record<string, string>>[];
}

/**
 * Parca's `profiling_config.pprof_config` defaults: CPU over the scrape interval and allocations, the
 * two every Go and Node pprof server has. Others (goroutine, block, mutex, custom) are turned on per job.
 */
const DEFAULT_ENDPOINTS: Record<string, PprofEndpoint & { enabled: boolean }> = {
  process_cpu: { name: 'process_cpu', path: '/debug/pprof/profile', seconds: true, cumulative: false, enabled: true },
  memory: { name: 'memory', path: '/debug/pprof/allocs', seconds: false, cumulative: true, enabled: true },
  goroutine: { name: 'goroutines', path: '/debug/pprof/goroutine', seconds: false, cumulative: false, enabled: false },
  block: { name: 'block', path: '/debug/pprof/block', seconds: false, cumulative: true, enabled: false },
  mutex: { name: 'mutex', path: '/debug/pprof/mutex', seconds: false, cumulative: true, enabled: false },
};

const JOB_KEYS = new Set(['job_name', 'scrape_interval', 'scrape_timeout', 'scheme', 'static_configs', 'profiling_config', 'relabel_configs']);

/**
 * `scrape_configs:` of the server config, Prometheus' shape with Parca's `profiling_config`:
 *
 *   scrape_configs:
 *     - job_name: checkout
 *       scrape_interval: 15s          # default 15s
 *       scrape_timeout: 20s           # default interval + 5s: a CPU profile takes the interval itself
 *       static_configs: [ { targets: ["10.0.0.5:6060"], labels: { env: prod } } ]
 *       profiling_config:
 *         pprof_config:
 *           goroutine: { enabled: true }
 *           fgprof: { enabled: true, path: /debug/fgprof, delta: true }   # a custom endpoint
 *       relabel_configs:              # Prometheus' rules over the discovered labels (src/scrape/targets.ts)
 *         - { source_labels: [__address__], regex: '(.*):\\d+', target_label: host }
 */
export function scrapeConfigsSection(v: unknown, file: string): ScrapeConfig[] {
  if (!Array.isArray(v)) throw new InputError(`${file}: scrape_configs must be a list of jobs`);
  const names = new Set<string>();
  return v.map((job, i) => {
    const where = `scrape_configs[${i}]`;
    const o = mapping(job, file, where);
    refuseUnknown(o, JOB_KEYS, file, where);
    const jobName = o['job_name'];
    if (typeof jobName !== 'string' || jobName === '') throw new InputError(`${file}: ${where}.job_name is required`);
    if (names.has(jobName)) throw new InputError(`${file}: ${where}.job_name "${jobName}" is used twice`);
    names.add(jobName);
    const intervalMs = duration(o['scrape_interval'], '15s', file, `${where}.scrape_interval`);
    const timeoutMs = duration(o['scrape_timeout'], `${intervalMs + 5000}ms`, file, `${where}.scrape_timeout`);
    const scheme = o['scheme'] ?? 'http';
    if (scheme !== 'http' && scheme !== 'https') throw new InputError(`${file}: ${where}.scheme must be http or https`);
    const statics = o['static_configs'] ?? [];
    if (!Array.isArray(statics)) throw new InputError(`${file}: ${where}.static_configs must be a list`);
    const staticConfigs = statics.map((s, j) => staticTargets(s, file, `${where}.static_configs[${j}]`));
    const discovery: JobDiscovery = {
      jobName, intervalMs, timeoutMs, scheme, staticConfigs,
      endpoints: endpoints(o['profiling_config'], file, `${where}.profiling_config`),
      relabelRules: prefixed(`${file}: ${where}.`, () => compileRelabelConfigs(o['relabel_configs'])),
    };
    const { active, dropped } = prefixed(`${file}: ${where}: `, () => resolveTargets(discovery));
    return { ...discovery, targets: active, droppedTargets: dropped };
  });
}

function staticTargets(v: unknown, file: string, where: string): StaticTargets {
  const o = mapping(v, file, where);
  const targets = o['targets'];
  if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string' || !/^[^/\s]+:\d+$/.test(t))) {
    throw new InputError(`${file}: ${where}.targets must be a list of host:port`);
  }
  const labels: Record<string, string> = {};
  for (const [k, val] of Object.entries(mapping(o['labels'] ?? {}, file, `${where}.labels`))) {
    if (typeof val !== 'string') throw new InputError(`${file}: ${where}.labels.${k} must be a string`);
    labels[k] = val;
  }
  return { targets: targets as string[], labels };
}

const PROFILING_KEYS = new Set(['pprof_config', 'path_prefix']);
const ENDPOINT_KEYS = new Set(['enabled', 'path', 'delta']);

function endpoints(v: unknown, file: string, where: string): PprofEndpoint[] {
  const chosen = new Map(Object.entries(DEFAULT_ENDPOINTS).map(([k, e]) => [k, { ...e }]));
  let prefix = '';
  if (v !== undefined) {
    const profiling = mapping(v, file, where);
    refuseUnknown(profiling, PROFILING_KEYS, file, where);
    // Parca's path_prefix: an app that serves pprof under a sub-path (behind a router) moves every profile.
    const rawPrefix = profiling['path_prefix'] ?? '';
    if (typeof rawPrefix !== 'string' || (rawPrefix !== '' && !rawPrefix.startsWith('/'))) throw new InputError(`${file}: ${where}.path_prefix must be an absolute path`);
    prefix = rawPrefix.replace(/\/+$/, '');
    const pprof = mapping(profiling['pprof_config'] ?? {}, file, `${where}.pprof_config`);
    for (const [key, raw] of Object.entries(pprof)) {
      const at = `${where}.pprof_config.${key}`;
      const o = mapping(raw, file, at);
      refuseUnknown(o, ENDPOINT_KEYS, file, at);
      const base = chosen.get(key);
      const path = o['path'] ?? base?.path;
      if (typeof path !== 'string' || !path.startsWith('/')) throw new InputError(`${file}: ${at}.path must be an absolute path`);
      if (!/^[A-Za-z0-9_]+$/.test(key)) throw new InputError(`${file}: ${at}: profile names are letters, digits and _`);
      chosen.set(key, {
        name: base?.name ?? key,
        path,
        seconds: o['delta'] === undefined ? (base?.seconds ?? false) : o['delta'] === true,
        cumulative: base?.cumulative ?? false,
        enabled: o['enabled'] === undefined ? true : o['enabled'] === true,
      });
    }
  }
  return [...chosen.values()].filter((e) => e.enabled).map(({ enabled: _, ...e }) => ({ ...e, path: prefix + e.path }));
}

/** A key Kiln does not read is refused, so a config relying on it is not half applied. */
function refuseUnknown(o: Record<string, unknown>, known: ReadonlySet<string>, file: string, where: string): void {
  for (const k of Object.keys(o)) if (!known.has(k)) throw new InputError(`${file}: ${where}.${k} is not supported (known: ${[...known].join(', ')})`);
}

/** Runs a check whose InputError does not know the file and job, and puts them before its message. */
function prefixed<T>(prefix: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${prefix}${e.message}`);
    throw e;
  }
}

function mapping(v: unknown, file: string, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}: ${where} must be a mapping`);
  return v as Record<string, unknown>;
}

function duration(v: unknown, fallback: string, file: string, where: string): number {
  const text = v === undefined ? fallback : String(v);
  try {
    const ms = parseDuration(text);
    if (ms <= 0) throw new InputError('must be positive');
    return ms;
  } catch (e) {
    throw new InputError(`${file}: ${where}: ${(e as Error).message}`);
  }
}
