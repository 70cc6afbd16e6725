import { Command, Option } from 'commander';
import { startAgent } from '../agent/agent.js';
import { DEFAULTS, readConfigFile, resolveConfig, type RawSettings } from '../agent/config.js';
import { PROTOCOLS } from '../agent/exporter-wire.js';
import { isInputError } from '../model/index.js';

/**
 * `kiln agent`: the per-node eBPF profiler. Flags override the YAML file given with --config, which
 * overrides the defaults shown in --help.
 */
export function agentCommand(): Command {
  return new Command('agent')
    .description(
      'Profile every process on this host with eBPF (CPU, sampled per CPU) and push one profile per process ' +
        'per interval to a Kiln server. Needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE, and libbpf.so.1.',
    )
    .addOption(new Option('--server <url>', `server to push to (default: ${DEFAULTS.server})`).env('KILN_SERVER'))
    .addOption(
      new Option('--protocol <name>', `wire format: kiln = Kiln's rows push (stacks by content id, each stack's symbols sent once; OTLP instead if the server has no such endpoint), otlp = OTLP profiles over HTTP, pyroscope = pprof to /ingest (default: ${DEFAULTS.protocol})`).choices(PROTOCOLS),
    )
    .addOption(new Option('--frequency <hz>', `samples per second per CPU (default: ${DEFAULTS.frequency})`))
    .addOption(new Option('--interval <duration>', `how often profiles are read and sent, e.g. 10s, 1m (default: ${DEFAULTS.intervalMs / 1000}s)`))
    .addOption(new Option('--config <file>', 'YAML file with the same settings in snake_case, plus relabel_configs'))
    .addOption(new Option('--node-name <name>', 'value of the node label; in Kubernetes, the node whose pods are watched (default: hostname)').env('NODE_NAME'))
    .addOption(new Option('--metrics-port <port>', `port of the agent's own /metrics; 0 = any free port, -1 = off (default: ${DEFAULTS.metricsPort})`))
    .addOption(new Option('--metrics-host <addr>', `address the /metrics server listens on (default: ${DEFAULTS.metricsHost})`))
    .addOption(
      new Option('--stack-map-size <n>', `entries of each BPF stack-trace map; raise it when kiln_agent_bpf_dropped_samples_total{reason="stacks_full"} grows (default: ${DEFAULTS.stackMapSize})`),
    )
    .addOption(new Option('--counts-map-size <n>', `entries of each BPF counts map: distinct thread+stack pairs per interval (default: ${DEFAULTS.countsMapSize})`))
    .addOption(new Option('--bearer-token-file <file>', 'file holding a token sent as "Authorization: Bearer <token>"'))
    .addOption(new Option('--token-file <file>', 'the same as --bearer-token-file (the name the CLI uses); a write token of kiln token create'))
    .addOption(new Option('--tenant <id>', 'tenant id sent as X-Scope-OrgID (default: none)'))
    .addOption(new Option('--queue-size <n>', `requests kept while the server is unreachable, oldest dropped first (default: ${DEFAULTS.queueSize})`))
    .addOption(new Option('--queue-bytes <n>', `bytes kept while the server is unreachable (default: ${DEFAULTS.queueBytes})`))
    .addOption(new Option('--timeout <duration>', `per-request timeout (default: ${DEFAULTS.timeoutMs / 1000}s)`))
    .addOption(new Option('--off-cpu', 'also profile time blocked (sched_switch), as off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds (default: off)'))
    .addOption(new Option('--off-cpu-min <time>', `blocks shorter than this are not recorded, e.g. 1ms (default: ${DEFAULTS.offCpuMinMs}ms: all, by sampling)`))
    .addOption(new Option('--off-cpu-period <time>', 'off-CPU sampling period: shorter blocks are kept with probability length/period, weighted one period (default: 1/frequency)'))
    .addOption(new Option('--no-unwind-tables', 'walk native stacks by frame pointers only, without the .eh_frame unwind tables (default: tables on)'))
    .addOption(new Option('--adaptive', 'keep a per-node sample budget and move it toward processes whose profiles change (default: off)'))
    .addOption(new Option('--adaptive-budget <n>', 'the node\'s samples per second with --adaptive (default: frequency × CPUs / 2)'))
    .addOption(new Option('--no-jvm-perf-map', 'do not ask HotSpot JVMs (JDK 17+) to write their JIT symbol map through the attach socket (default: on)'))
    .addOption(new Option('--no-v8-frames', 'do not name node\'s JavaScript frames from V8\'s heap (default: on)'))
    .addOption(new Option('--unwind-table-size <n>', `rows of the BPF unwind table shared by every binary, 8 bytes each (default: ${DEFAULTS.unwindTableSize})`))

    .addHelpText(
      'after',
      '\nExample: sudo kiln agent --server http://localhost:4040\n' +
        'Config file example:\n' +
        '  server: http://kiln.monitoring:4040\n  interval: 10s\n  relabel_configs:\n' +
        '    - source_labels: [comm]\n      regex: "kworker.*"\n      action: drop\n',
    )
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      try {
        const file = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
        const flags: RawSettings = {
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
          // commander's --no-unwind-tables gives unwindTables: true by default; only a false is a choice.
          unwindTables: opts.unwindTables === false ? false : undefined,
          unwindTableSize: opts.unwindTableSize,
          adaptive: opts.adaptive,
          adaptiveBudget: opts.adaptiveBudget,
          jvmPerfMap: opts.jvmPerfMap === false ? false : undefined,
          v8Frames: opts.v8Frames === false ? false : undefined,
        };
        const agent = await startAgent(resolveConfig(file, flags));
        await new Promise<void>((resolve) => {
          const stop = (sig: string) => {
            process.stderr.write(`kiln agent: ${sig}, detaching and sending the last profiles\n`);
            agent.stop().then(resolve, (e: Error) => {
              process.stderr.write(`kiln agent: ${e.message}\n`);
              resolve();
            });
          };
          process.once('SIGINT', () => stop('SIGINT'));
          process.once('SIGTERM', () => stop('SIGTERM'));
        });
      } catch (e) {
        process.stderr.write(`kiln agent: ${(e as Error).message}\n`);
        process.exitCode = isInputError(e) ? 2 : 1;
      }
    });
}
