import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { InputError } from '../model/index.js';
import { PROTOCOLS, type Protocol } from './exporter-wire.js';

/**
 * The agent's settings: defaults, overridden by the YAML file (`--config`), overridden by flags.
 * YAML keys are the flag names in snake_case (`stack_map_size: 32768`), plus `relabel_configs`
 * (Prometheus syntax), which only the file can hold.
 */
export interface AgentConfig {
  readonly server: string;
  readonly protocol: Protocol;
  readonly frequency: number;
  readonly intervalMs: number;
  readonly nodeName: string;
  /** 0 = any free port; -1 = no metrics server. */
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly stackMapSize: number;
  readonly countsMapSize: number;
  readonly bearerTokenFile?: string;
  readonly tenant?: string;
  readonly queueSize: number;
  readonly queueBytes: number;
  readonly timeoutMs: number;
  /** Prometheus relabel_configs as written in the file; validated by the relabeler. */
  readonly relabelConfigs: readonly Record<string, unknown>[];
  /** Off-CPU profiling (time blocked, from sched_switch): off by default, as in Parca and the OTel profiler. */
  readonly offCpu: boolean;
  /** Blocks shorter than this are not recorded (0: every block counts, by sampling). */
  readonly offCpuMinMs: number;
  /** Off-CPU sampling period: shorter blocks are kept with probability length/period; default 1/frequency. */
  readonly offCpuPeriodMs: number | undefined;
  /** Native unwinding from .eh_frame tables (default on); off: frame pointers only. */
  readonly unwindTables: boolean;
  /** Rows of the BPF unwind table shared by every binary (8 bytes each). */
  readonly unwindTableSize: number;
  /** Adaptive sampling: a per-node sample budget moved toward processes whose profiles change. */
  readonly adaptive: boolean;
  /** The budget, samples per second for the whole node (default: frequency × CPUs / 2). */
  readonly adaptiveBudget: number | undefined;
  /** Ask HotSpot JVMs (JDK 17+) for their JIT symbol map through the attach socket (default on). */
  readonly jvmPerfMap: boolean;
  /** Name node's JavaScript frames from V8's heap (SharedFunctionInfo read per frame in BPF; default on). */
  readonly v8Frames: boolean;
}

export const DEFAULTS: AgentConfig = {
  server: 'http://localhost:4040',
  protocol: 'kiln',
  frequency: 19,
  intervalMs: 10_000,
  nodeName: process.env.NODE_NAME || hostname(),
  metricsPort: 4041,
  metricsHost: '0.0.0.0',
  stackMapSize: 16384,
  countsMapSize: 16384,
  queueSize: 360,
  queueBytes: 64 * 1024 * 1024,
  timeoutMs: 10_000,
  relabelConfigs: [],
  offCpu: false,
  offCpuMinMs: 0,
  offCpuPeriodMs: undefined,
  unwindTables: true,
  unwindTableSize: 1 << 21,
  adaptive: false,
  adaptiveBudget: undefined,
  jvmPerfMap: true,
  v8Frames: true,
};

/**
 * The YAML parser, loaded on the first --config: most agents run on flags alone, and importing it costs
 * a running agent ≈ 1 MiB of RSS (0.6 MiB of heap) for as long as it runs. (Synchronous: the yaml package's node entry is CommonJS.)
 */
function yaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

/** Raw values as they come from flags or YAML (strings or numbers), keyed by camelCase name. */
export type RawSettings = Partial<Record<keyof AgentConfig | 'interval' | 'timeout' | 'config' | 'offCpuMin' | 'offCpuPeriod', unknown>>;

const YAML_KEYS: Record<string, keyof RawSettings> = {
  server: 'server',
  protocol: 'protocol',
  frequency: 'frequency',
  interval: 'interval',
  node_name: 'nodeName',
  metrics_port: 'metricsPort',
  metrics_host: 'metricsHost',
  stack_map_size: 'stackMapSize',
  counts_map_size: 'countsMapSize',
  bearer_token_file: 'bearerTokenFile',
  token_file: 'bearerTokenFile',
  tenant: 'tenant',
  queue_size: 'queueSize',
  queue_bytes: 'queueBytes',
  timeout: 'timeout',
  relabel_configs: 'relabelConfigs',
  off_cpu: 'offCpu',
  off_cpu_min: 'offCpuMin',
  off_cpu_period: 'offCpuPeriod',
  unwind_tables: 'unwindTables',
  unwind_table_size: 'unwindTableSize',
  adaptive: 'adaptive',
  adaptive_budget: 'adaptiveBudget',
  jvm_perf_map: 'jvmPerfMap',
  v8_frames: 'v8Frames',
};

export function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read --config ${path}: ${(e as Error).message}`);
  }
  return parseConfigYaml(text, path);
}

export function parseConfigYaml(text: string, source = 'config'): RawSettings {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new InputError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`${source}: expected a mapping of settings at the top level`);
  const out: RawSettings = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = YAML_KEYS[k];
    if (!key) throw new InputError(`${source}: unknown setting "${k}" (known: ${Object.keys(YAML_KEYS).join(', ')})`);
    out[key] = v;
  }
  return out;
}

/** Defaults ← file ← flags; every value checked, the first bad one named in an InputError. */
export function resolveConfig(file: RawSettings, flags: RawSettings): AgentConfig {
  const raw: RawSettings = { ...file };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) raw[k as keyof RawSettings] = v;
  const d = DEFAULTS;
  const server = str(raw.server, 'server') ?? d.server;
  try {
    const u = new URL(server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new InputError(`--server "${server}" is not an http(s) URL (e.g. http://localhost:4040)`);
  }
  const protocol = str(raw.protocol, 'protocol') ?? d.protocol;
  if (!PROTOCOLS.includes(protocol as Protocol)) throw new InputError(`--protocol "${protocol}": use one of ${PROTOCOLS.join(', ')}`);
  const frequency = int(raw.frequency, 'frequency', 1, 1000) ?? d.frequency;
  const intervalMs = duration(raw.interval, 'interval', 1000, 3_600_000) ?? d.intervalMs;
  return {
    server,
    protocol: protocol as Protocol,
    frequency,
    intervalMs,
    nodeName: str(raw.nodeName, 'node-name') ?? d.nodeName,
    metricsPort: int(raw.metricsPort, 'metrics-port', -1, 65535) ?? d.metricsPort,
    metricsHost: str(raw.metricsHost, 'metrics-host') ?? d.metricsHost,
    stackMapSize: int(raw.stackMapSize, 'stack-map-size', 64, 1 << 22) ?? d.stackMapSize,
    countsMapSize: int(raw.countsMapSize, 'counts-map-size', 64, 1 << 22) ?? d.countsMapSize,
    bearerTokenFile: str(raw.bearerTokenFile, 'bearer-token-file'),
    tenant: str(raw.tenant, 'tenant'),
    queueSize: int(raw.queueSize, 'queue-size', 1, 1_000_000) ?? d.queueSize,
    queueBytes: int(raw.queueBytes, 'queue-bytes', 1024, 2 ** 31) ?? d.queueBytes,
    timeoutMs: duration(raw.timeout, 'timeout', 100, 600_000) ?? d.timeoutMs,
    relabelConfigs: relabelList(raw.relabelConfigs),
    offCpu: bool(raw.offCpu, 'off-cpu') ?? d.offCpu,
    offCpuMinMs: duration(raw.offCpuMin, 'off-cpu-min', 0, 60_000) ?? d.offCpuMinMs,
    offCpuPeriodMs: duration(raw.offCpuPeriod, 'off-cpu-period', 1, 1000) ?? d.offCpuPeriodMs,
    unwindTables: bool(raw.unwindTables, 'unwind-tables') ?? d.unwindTables,
    unwindTableSize: int(raw.unwindTableSize, 'unwind-table-size', 1024, 1 << 26) ?? d.unwindTableSize,
    adaptive: bool(raw.adaptive, 'adaptive') ?? d.adaptive,
    adaptiveBudget: int(raw.adaptiveBudget, 'adaptive-budget', 1, 1_000_000) ?? d.adaptiveBudget,
    jvmPerfMap: bool(raw.jvmPerfMap, 'jvm-perf-map') ?? d.jvmPerfMap,
    v8Frames: bool(raw.v8Frames, 'v8-frames') ?? d.v8Frames,
  };
}

/** true/false, also as the strings flags and YAML give ("true", "false", "1", "0", "yes", "no"). */
function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  const t = String(v).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new InputError(`--${name} "${String(v)}": expected true or false`);
}

function str(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new InputError(`${name}: expected a string, got ${typeof v}`);
  return String(v);
}

function int(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`--${name} "${String(v)}": expected a whole number from ${min} to ${max}`);
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "10s", "500ms", "1m", "1h30m"; a bare number is seconds. */
export function parseDuration(v: string): number | undefined {
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === t.length && end > 0 ? total : undefined;
}

function duration(v: unknown, name: string, minMs: number, maxMs: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms < minMs || ms > maxMs) {
    throw new InputError(`--${name} "${String(v)}": expected a duration like 10s, 500ms or 1m, from ${minMs}ms to ${maxMs / 1000}s`);
  }
  return Math.round(ms);
}

function relabelList(v: unknown): readonly Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
    throw new InputError('relabel_configs: expected a list of rules (mappings with action, source_labels, regex …)');
  }
  return v as Record<string, unknown>[];
}

/** The token from --bearer-token-file, trimmed; re-read at start only (rotate by restarting). */
export function readBearerToken(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token === '') throw new InputError(`--bearer-token-file ${path} is empty`);
    return token;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read --bearer-token-file ${path}: ${(e as Error).message}`);
  }
}
