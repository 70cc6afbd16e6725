import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULTS, type RawSettings } from '../agent/config.js';
import { PROTOCOLS } from '../agent/exporter-wire.js';

/**
 * `kiln agent`'s flags, listed once. Two readers use the list: commander builds the help text and the
 * usage errors from it (src/cli/agent.ts), and the agent-only entry (src/agent/cli-main.ts) parses a
 * valid command line with node's own `util.parseArgs`, so a running agent never loads commander — it
 * costs ≈ 3 MiB of RSS on every host, most of it node:child_process and the 20 built-ins that one pulls
 * in (docs/BENCHMARKS.md, "what importing costs the agent"). Anything parseArgs is not sure of (--help,
 * an unknown flag, a bad choice, a stray argument) goes to commander, so the help and the errors users
 * see are commander's in both entries.
 */
export interface AgentFlag {
  /** The long flag with its value placeholder, as commander reads it: '--server <url>', '--off-cpu'. */
  readonly flags: string;
  readonly description: string;
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  readonly choices?: readonly string[];
}

export const AGENT_DESCRIPTION =
  'Profile every process on this host with eBPF (CPU, sampled per CPU) and push one profile per process ' +
  'per interval to a Kiln server. Needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE, and libbpf.so.1.';

export const AGENT_HELP_AFTER =
  '\nExample: sudo kiln agent --server http://localhost:4040\n' +
  'Config file example:\n' +
  '  server: http://kiln.monitoring:4040\n  interval: 10s\n  relabel_configs:\n' +
  '    - source_labels: [comm]\n      regex: "kworker.*"\n      action: drop\n';

export const AGENT_FLAGS: readonly AgentFlag[] = [
  { flags: '--server <url>', description: `server to push to (default: ${DEFAULTS.server})`, env: 'KILN_SERVER' },
  {
    flags: '--protocol <name>',
    description: `wire format: kiln = Kiln's rows push (stacks by content id, each stack's symbols sent once; OTLP instead if the server has no such endpoint), otlp = OTLP profiles over HTTP, pyroscope = pprof to /ingest (default: ${DEFAULTS.protocol})`,
    choices: PROTOCOLS,
  },
  { flags: '--frequency <hz>', description: `samples per second per CPU (default: ${DEFAULTS.frequency})` },
  { flags: '--interval <duration>', description: `how often profiles are read and sent, e.g. 10s, 1m (default: ${DEFAULTS.intervalMs / 1000}s)` },
  { flags: '--config <file>', description: 'YAML file with the same settings in snake_case, plus relabel_configs' },
  { flags: '--node-name <name>', description: 'value of the node label; in Kubernetes, the node whose pods are watched (default: hostname)', env: 'NODE_NAME' },
  { flags: '--metrics-port <port>', description: `port of the agent's own /metrics; 0 = any free port, -1 = off (default: ${DEFAULTS.metricsPort})` },
  { flags: '--metrics-host <addr>', description: `address the /metrics server listens on (default: ${DEFAULTS.metricsHost})` },
  {
    flags: '--stack-map-size <n>',
    description: `entries of each BPF stack-trace map; raise it when kiln_agent_bpf_dropped_samples_total{reason="stacks_full"} grows (default: ${DEFAULTS.stackMapSize})`,
  },
  { flags: '--counts-map-size <n>', description: `entries of each BPF counts map: distinct thread+stack pairs per interval (default: ${DEFAULTS.countsMapSize})` },
  { flags: '--bearer-token-file <file>', description: 'file holding a token sent as "Authorization: Bearer <token>"' },
  { flags: '--token-file <file>', description: 'the same as --bearer-token-file (the name the CLI uses); a write token of kiln token create' },
  { flags: '--tenant <id>', description: 'tenant id sent as X-Scope-OrgID (default: none)' },
  { flags: '--queue-size <n>', description: `requests kept while the server is unreachable, oldest dropped first (default: ${DEFAULTS.queueSize})` },
  { flags: '--queue-bytes <n>', description: `bytes kept while the server is unreachable (default: ${DEFAULTS.queueBytes})` },
  { flags: '--timeout <duration>', description: `per-request timeout (default: ${DEFAULTS.timeoutMs / 1000}s)` },
  { flags: '--off-cpu', description: 'also profile time blocked (sched_switch), as off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds (default: off)' },
  { flags: '--off-cpu-min <time>', description: `blocks shorter than this are not recorded, e.g. 1ms (default: ${DEFAULTS.offCpuMinMs}ms: all, by sampling)` },
  {
    flags: '--off-cpu-period <time>',
    description: 'off-CPU sampling period: shorter blocks are kept with probability length/period, weighted one period (default: 1/frequency)',
  },
  { flags: '--no-unwind-tables', description: 'walk native stacks by frame pointers only, without the .eh_frame unwind tables (default: tables on)' },
  { flags: '--adaptive', description: 'keep a per-node sample budget and move it toward processes whose profiles change (default: off)' },
  { flags: '--adaptive-budget <n>', description: "the node's samples per second with --adaptive (default: frequency × CPUs / 2)" },
  { flags: '--no-jvm-perf-map', description: 'do not ask HotSpot JVMs (JDK 17+) to write their JIT symbol map through the attach socket (default: on)' },
  { flags: '--no-v8-frames', description: "do not name node's JavaScript frames from V8's heap (default: on)" },
  { flags: '--unwind-table-size <n>', description: `rows of the BPF unwind table shared by every binary, 8 bytes each (default: ${DEFAULTS.unwindTableSize})` },
];

/** What a flag is called on the command line ('off-cpu') and in the parsed options ('offCpu'). */
function names(flag: AgentFlag): { readonly long: string; readonly key: string; readonly takesValue: boolean } {
  const long = flag.flags.split(' ')[0]!.slice(2);
  const positive = long.startsWith('no-') ? long.slice(3) : long;
  return { long, key: positive.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()), takesValue: flag.flags.includes('<') };
}

/** The options commander hands its action: each flag's camelCase key, as commander names them. */
export type AgentOptions = Record<string, string | boolean | undefined>;

/**
 * Parses `kiln agent`'s arguments (those after the verb) as commander would, or returns undefined when
 * only commander should answer them: --help, an unknown or malformed flag, a value outside a flag's
 * choices, a positional argument.
 */
export function parseAgentArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): AgentOptions | undefined {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const flag of AGENT_FLAGS) {
    const { long, takesValue } = names(flag);
    options[long] = { type: takesValue ? 'string' : 'boolean' };
  }
  // commander takes the word after a flag with a <value> as its value even when it starts with a dash
  // (--metrics-port -1); parseArgs would call that ambiguous, so such pairs are joined with '=' first.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (next !== undefined && arg.startsWith('--') && options[arg.slice(2)]?.type === 'string') {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: joined, options, strict: true, allowPositionals: false }).values;
  } catch {
    return undefined;
  }
  const out: AgentOptions = {};
  for (const flag of AGENT_FLAGS) {
    const { long, key } = names(flag);
    const given = values[long];
    if (Array.isArray(given)) return undefined;
    // commander's negatable flags: --no-x gives x === false, and x defaults to true.
    if (long.startsWith('no-')) out[key] = given === true ? false : true;
    else if (given !== undefined) out[key] = given;
    else if (flag.env !== undefined && flag.env in env) out[key] = env[flag.env];
    const value = out[key];
    if (flag.choices && typeof value === 'string' && !flag.choices.includes(value)) return undefined;
  }
  return out;
}

/** The settings the options give, for resolveConfig (which checks and converts each value). */
export function agentSettings(opts: AgentOptions): RawSettings {
  return {
    server: opts.server,
    protocol: opts.protocol,
    frequency: opts.frequency,
    interval: opts.interval,
    nodeName: opts.nodeName,
    metricsPort: opts.metricsPort,
    metricsHost: opts.metricsHost,
    stackMapSize: opts.stackMapSize,
    countsMapSize: opts.countsMapSize,
    bearerTokenFile: opts.bearerTokenFile ?? opts.tokenFile,
    tenant: opts.tenant,
    queueSize: opts.queueSize,
    queueBytes: opts.queueBytes,
    timeout: opts.timeout,
    offCpu: opts.offCpu,
    offCpuMin: opts.offCpuMin,
    offCpuPeriod: opts.offCpuPeriod,
    // A negatable flag is true unless given: only a false is the user's choice, so the file's setting stands otherwise.
    unwindTables: opts.unwindTables === false ? false : undefined,
    unwindTableSize: opts.unwindTableSize,
    adaptive: opts.adaptive,
    adaptiveBudget: opts.adaptiveBudget,
    jvmPerfMap: opts.jvmPerfMap === false ? false : undefined,
    v8Frames: opts.v8Frames === false ? false : undefined,
  };
}
