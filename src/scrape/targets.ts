import { InputError } from '../model/errors.js';
import { labelsFrom, labelsToRecord } from '../model/labels.js';
import { relabel, type RelabelRule } from '../model/relabel.js';
import { parseDuration } from '../query/time.js';

/** One profile a target serves: where, and whether its values count since the process started. */
export interface PprofEndpoint {
  /** Profile name (`process_cpu`, `memory`, `goroutine`, …): the type name the samples are stored under. */
  readonly name: string;
  readonly path: string;
  /** process_cpu: ask for `?seconds=N` (a profile of the last N seconds). */
  readonly seconds: boolean;
  /**
   * The endpoint returns totals since the process started (Go's allocs, block, mutex): Kiln stores the
   * difference from the previous scrape, so merging over time does not count the same allocations again.
   */
  readonly cumulative: boolean;
}

export interface StaticTargets {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** What target discovery needs of a job (the parsed job, before its targets are resolved). */
export interface JobDiscovery {
  readonly jobName: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly scheme: 'http' | 'https';
  readonly staticConfigs: readonly StaticTargets[];
  readonly endpoints: readonly PprofEndpoint[];
  readonly relabelRules: readonly RelabelRule[];
}

/** One (target, profile) pair to scrape, after relabelling: everything a scrape loop needs, as plain data. */
export interface ScrapeTarget {
  readonly job: string;
  readonly url: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly endpoint: PprofEndpoint;
  /** The labels every profile from this target is stored with (no `__` labels; job, instance, service_name set). */
  readonly labels: Readonly<Record<string, string>>;
  /** The labels before relabelling, as `/targets` shows them (Prometheus' discoveredLabels). */
  readonly discoveredLabels: Readonly<Record<string, string>>;
}

/**
 * The labels discovery gives each (target, profile) pair before `relabel_configs` runs: Prometheus'
 * `__address__`, `__scheme__`, `__scrape_interval__`, `__scrape_timeout__` and `job`, and Parca's and
 * Grafana Alloy's `__name__` (the profile) and `__profile_path__` (its path), so one rule can drop a
 * profile for some targets, move a path or rewrite an address.
 */
const ADDRESS = '__address__';
const SCHEME = '__scheme__';
const PROFILE_PATH = '__profile_path__';
const PROFILE_NAME = '__name__';
const INTERVAL = '__scrape_interval__';
const TIMEOUT = '__scrape_timeout__';
/** `__param_seconds=30` becomes `?seconds=30` on the scrape URL, as in Prometheus. */
const PARAM_PREFIX = '__param_';

export interface ResolvedTargets {
  readonly active: ScrapeTarget[];
  /** Discovered label sets a keep/drop rule removed (Prometheus' droppedTargets). */
  readonly dropped: Readonly<Record<string, string>>[];
}

/**
 * Turns a job's static targets and profiles into scrape targets through its relabel rules. Discovery is
 * static, so this runs when the config is read and a rule that leaves a target without a usable address,
 * scheme or path is a config error naming the job and target, not a scrape that fails later.
 */
export function resolveTargets(job: JobDiscovery): ResolvedTargets {
  const active: ScrapeTarget[] = [];
  const dropped: Record<string, string>[] = [];
  for (const sc of job.staticConfigs) {
    for (const address of sc.targets) {
      for (const ep of job.endpoints) {
        // As in Prometheus, a static label may set job, scheme, interval or timeout (discovery fills them
        // only where the target has none); the address and the profile's name and path are discovery's.
        const discovered: Record<string, string> = {
          job: job.jobName, [SCHEME]: job.scheme, [INTERVAL]: durationText(job.intervalMs), [TIMEOUT]: durationText(job.timeoutMs),
          ...sc.labels,
          [ADDRESS]: address, [PROFILE_PATH]: ep.path, [PROFILE_NAME]: ep.name,
        };
        const out = relabel(labelsFrom(discovered), job.relabelRules);
        if (!out) {
          dropped.push(discovered);
          continue;
        }
        active.push(target(job, ep, discovered, labelsToRecord(out)));
      }
    }
  }
  return { active, dropped };
}

function target(job: JobDiscovery, ep: PprofEndpoint, discovered: Record<string, string>, after: Record<string, string>): ScrapeTarget {
  const where = `job "${job.jobName}", target ${discovered[ADDRESS]} (${ep.name})`;
  const address = after[ADDRESS] ?? '';
  if (!/^[^/\s?#@]+:\d+$/.test(address)) throw new InputError(`${where}: after relabel_configs, __address__ "${address}" is not host:port`);
  const scheme = after[SCHEME] ?? '';
  if (scheme !== 'http' && scheme !== 'https') throw new InputError(`${where}: after relabel_configs, __scheme__ "${scheme}" is not http or https`);
  const path = after[PROFILE_PATH] ?? '';
  if (!path.startsWith('/')) throw new InputError(`${where}: after relabel_configs, __profile_path__ "${path}" is not an absolute path`);
  const name = after[PROFILE_NAME] ?? '';
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new InputError(`${where}: after relabel_configs, __name__ "${name}" is not a profile name (letters, digits, _)`);
  const intervalMs = durationMs(after[INTERVAL], where, INTERVAL);
  const timeoutMs = durationMs(after[TIMEOUT], where, TIMEOUT);

  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(after)) if (k.startsWith(PARAM_PREFIX)) params.set(k.slice(PARAM_PREFIX.length), v);
  // A CPU profile covers the interval less a second, so it is back before the next scrape starts.
  if (ep.seconds && !params.has('seconds')) params.set('seconds', String(Math.max(1, Math.min(Math.floor(intervalMs / 1000), Math.floor(timeoutMs / 1000)) - 1)));
  const query = params.toString() === '' ? '' : `?${params.toString()}`;

  // What is stored: every label not starting with `__`; instance defaults to the address and
  // service_name (Kiln's and Pyroscope's primary label) to the job.
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(after)) if (!k.startsWith('__')) labels[k] = v;
  labels['instance'] ??= address;
  labels['service_name'] ??= labels['job'] ?? job.jobName;
  return {
    job: job.jobName,
    url: `${scheme}://${address}${path}${query}`,
    intervalMs,
    timeoutMs,
    endpoint: { ...ep, name, path },
    labels,
    discoveredLabels: discovered,
  };
}

function durationMs(text: string | undefined, where: string, label: string): number {
  try {
    const ms = parseDuration(text ?? '');
    if (ms > 0) return ms;
  } catch {
    // reported below with the label's name
  }
  throw new InputError(`${where}: after relabel_configs, ${label} "${text ?? ''}" is not a positive duration`);
}

/** Milliseconds as Prometheus writes a scrape interval: whole seconds as `15s`, else `1500ms`. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
