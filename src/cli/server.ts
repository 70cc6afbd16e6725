import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { InputError } from '../model/index.js';
import { parseDuration } from '../query/time.js';
import { DEFAULT_HOST, DEFAULT_PORT } from '../server/listen-defaults.js';
import type { ServerConfig } from '../config/server-config.js';
import { DEFAULT_DATA_DIR } from '../store/data-dir-default.js';
import { action } from './common.js';

/** The built web UI, relative to this file in both src/ (tsx) and dist/ (compiled) layouts. */
const BUILT_UI = fileURLToPath(new URL('../../ui/dist', import.meta.url));

/** `64MiB`, `512KiB`, `1GiB` or plain bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(text.trim());
  if (!m) throw new InputError(`"${text}" is not a size like 64MiB`);
  const units: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
}

/**
 * `--retention`: a duration with a unit, or 0 to keep everything. A bare number would read as seconds
 * (`--retention 30` = 30 s), and retention deletes at start-up: refuse it rather than drop every older day.
 */
function parseRetention(text: string): number {
  if (text.trim() === '0') return 0;
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) throw new InputError(`--retention ${text} has no unit: write e.g. ${text.trim()}d for days, 12h for hours, or 0 to keep everything`);
  return parseDuration(text);
}

interface ServerFlags {
  port: string;
  host: string;
  dataDir?: string;
  store?: string;
  clickhouseCluster?: string;
  config?: string;
  retention?: string;
  maxDecompressed: string;
  maxBody: string;
  ui: string;
  log: boolean;
  tlsCert?: string;
  tlsKey?: string;
  workers?: string;
}

export function serverCommand(): Command {
  return new Command('server')
    .description('Run the Kiln server: ingest (Pyroscope, OTLP, pprof), store, query APIs, web UI and /metrics on one port.')
    .option('-p, --port <port>', 'port for HTTP/1.1 and h2c (REST, Connect, gRPC, gRPC-web, UI, /metrics)', String(DEFAULT_PORT))
    .option('--host <addr>', 'address to listen on (127.0.0.1 keeps it private to this machine)', DEFAULT_HOST)
    .option('-c, --config <file>', 'server config file (YAML; flags override it; reloaded on SIGHUP and when it changes)')
    .option('-d, --data-dir <dir>', `directory of the embedded store, created if missing (default ${DEFAULT_DATA_DIR})`)
    .addOption(new Option('--store <url>', 'store URL instead of --data-dir: clickhouse://user:pass@host:8123/db (N servers may share one)'))
    .addOption(new Option('--clickhouse-cluster <name>', 'ClickHouse: replicated tables on every server of this cluster (remote_servers), read through Distributed tables'))
    .option('--retention <duration>', 'drop data older than this, whole days at a time (e.g. 7d, 30d; 0 keeps everything) (default 30d)')
    .option('--max-decompressed <size>', 'largest decompressed payload accepted (zip-bomb cap)', '64MiB')
    .option('--max-body <size>', 'largest request body accepted', '64MiB')
    .option('--ui <dir>', 'directory of the built web UI', BUILT_UI)
    .option('--log', 'log every request as JSON lines', false)
    .option('--tls-cert <file>', 'serve HTTPS (HTTP/1.1 and h2) with this PEM certificate chain; needs --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--workers <n>', 'threads decoding ingest payloads off the event loop; 0 decodes on it (default: cores - 1, at least 1; config key workers:)')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln server --data-dir /var/lib/kiln --retention 7d\n  kiln server --store clickhouse://default:@ch:8123/kiln --retention 90d   # run as many as you like\n  kiln server --config kiln.yaml\n  then open http://localhost:4040',
    )
    .action(action(async (flags: ServerFlags) => {
      // The server's modules load when it runs, not with the CLI: every other verb and every `--help`
      // started in ≈ 1.8 s (1.55 s of CPU) loading them.
      const [{ startServer }, { loadServerConfig, watchServerConfig }, { startInsight }, { ReportScheduler }, { openStore }, { scheduleRetention }, { openServerWarning }] = await Promise.all([
        import('../server/server.js'),
        import('../config/server-config.js'),
        import('../insight/bridge.js'),
        import('../insight/report-schedule.js'),
        import('../store/index.js'),
        import('../store/retention.js'),
        import('../server/auth.js'),
      ]);
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`--port ${flags.port} is not a port number`);
      const config: ServerConfig = flags.config ? loadServerConfig(flags.config) : { unknownSections: [] };
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new InputError('give both --tls-cert and --tls-key, or neither');
      const tls = flags.tlsCert !== undefined && flags.tlsKey !== undefined ? { certFile: flags.tlsCert, keyFile: flags.tlsKey } : undefined;
      const log = (msg: string) => process.stderr.write(`kiln server: ${msg}\n`);
      if (config.unknownSections.length > 0) log(`${flags.config}: ignoring unknown section(s) ${config.unknownSections.join(', ')}`);
      const where = storeLocation(flags, config);
      const retentionMs = parseRetention(flags.retention ?? config.store?.retention ?? '30d');
      const cluster = flags.clickhouseCluster ?? config.store?.clickhouseCluster;
      // Every flag is checked before the store opens, so a typo does not create a data directory.
      const limits = { maxDecompressedBytes: parseBytes(flags.maxDecompressed), maxBodyBytes: parseBytes(flags.maxBody) };
      const decodeWorkers = flags.workers === undefined ? config.workers : Number(flags.workers);
      if (decodeWorkers !== undefined && (!Number.isInteger(decodeWorkers) || decodeWorkers < 0)) throw new InputError(`--workers ${flags.workers} is not a whole number of threads`);
      const store = await openStore(where, { clickhouseCluster: cluster, retentionMs });
      // Teams, prices and report schedules are read from the live config, so a reload applies at once.
      let live = config;
      const server = await startServer({
        store,
        host: flags.host,
        port,
        uiDir: flags.ui,
        logger: flags.log,
        limits,
        config: () => live,
        tls,
        decodeWorkers,
      });
      const scheme = tls ? 'https' : 'http';
      // An open server on a reachable address is Pyroscope's default, and a risk worth saying out loud.
      const warnIfOpen = (cfg: ServerConfig) => {
        const warning = openServerWarning(flags.host, cfg.auth !== undefined);
        if (warning) log(warning);
      };
      warnIfOpen(config);
      const stopRetention = retentionMs > 0 ? scheduleRetention(store, retentionMs, log) : () => {};
      // Links in alerts and reports must open from elsewhere: a wildcard bind is named by this machine's host name.
      const externalUrl = `${scheme}://${flags.host === '0.0.0.0' || flags.host === '::' ? os.hostname() : flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${server.port}`;
      // Function metrics, recording rules, alerts and remote write (src/insight), computed in the background.
      const insight = startInsight({
        store,
        metrics: server.context.metrics,
        config,
        externalUrl,
        log: (msg) => log(`metrics: ${msg}`),
      });
      // Scheduled team reports (src/insight/report-schedule.ts); their links use alerting.external_url when set.
      const reports = new ReportScheduler({
        query: server.context.query,
        settings: () => ({ reports: live.reports ?? [], cost: live.cost }),
        uiUrl: () => live.alerting?.externalUrl ?? externalUrl,
        log: (msg) => log(`reports: ${msg}`),
      });
      reports.start();
      const stopWatching = flags.config
        ? watchServerConfig(
            flags.config,
            (next) => {
              // The store is opened once: a new store section takes a restart; later sections reload here.
              if (JSON.stringify(next.store) !== JSON.stringify(config.store)) log(`${flags.config}: the store section changed; restart to apply it`);
              else log(`${flags.config}: reloaded`);
              insight.apply(next);
              live = next;
              warnIfOpen(next);
            },
            log,
          )
        : () => {};
      log(`listening on ${flags.host}:${server.port} — UI and APIs at ${scheme}://localhost:${server.port}, data in ${redactUrl(where)}`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log(`${sig}: stopping (finishing in-flight requests, flushing the store)`);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      stopRetention();
      stopWatching();
      await insight.stop();
      await reports.stop();
      await server.close();
      await store.close();
    }));
}

/** Flags first, then the config file, then the default data directory. */
function storeLocation(flags: ServerFlags, config: ServerConfig): string {
  if (flags.store !== undefined && flags.dataDir !== undefined) throw new InputError('give --store or --data-dir, not both');
  return flags.store ?? flags.dataDir ?? config.store?.url ?? config.store?.dataDir ?? DEFAULT_DATA_DIR;
}

/** A store URL for logs: the password never goes to a log. */
export function redactUrl(where: string): string {
  return where.replace(/^(clickhouse:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}
