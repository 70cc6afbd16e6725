import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { InputError, SERVICE_NAME } from '../model/index.js';
import { detectFormat } from '../formats/registry.js';
import { OTLP_HTTP_PATH, OTLP_JSON_TYPE, OTLP_PROTOBUF_TYPE } from '../formats/otlp.js';
import '../formats/otlp-format.js'; // registers `otlp` so captures are recognised
import { action, clientFrom, withServerOptions } from './common.js';

/** `k=v,k2=v2` → pairs; values may contain '=' but not ','. */
export function parseLabelFlag(flag: string | undefined): [string, string][] {
  if (!flag) return [];
  return flag.split(',').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new InputError(`--labels: "${kv}" is not name=value`);
    return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()];
  });
}

/** Pyroscope's `name` parameter: `app{k=v,…}`; the app name becomes service_name on the server. */
export function ingestName(app: string, labels: [string, string][]): string {
  const rest = labels.filter(([k]) => k !== SERVICE_NAME);
  return rest.length === 0 ? app : `${app}{${rest.map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

/**
 * Says which time range the server stored and how to look at it: a file keeps its own timestamp, which
 * the default views (the last hour) do not show when it is old.
 */
export function whereStored(body: string, app: string, restamped: boolean, nowMs = Date.now()): string {
  let range: { fromMs?: number; untilMs?: number; types?: string[] };
  try {
    range = JSON.parse(body) as { fromMs?: number; untilMs?: number; types?: string[] };
  } catch {
    return '';
  }
  if (range.fromMs === undefined || range.untilMs === undefined) return '';
  const from = new Date(range.fromMs).toISOString();
  const until = new Date(Math.max(range.untilMs, range.fromMs + 1000)).toISOString();
  const old = nowMs - range.fromMs > 3600_000;
  return (
    `  stored ${from} … ${until}${old ? ` (${Math.round((nowMs - range.fromMs) / 3600_000)} h ago: outside the default last-hour view` : ''}${old && !restamped ? '; --now stores it as of now' : ''}${old ? ')' : ''}\n` +
    `  see it: kiln query top '${range.types?.[0] ?? ''}{service_name="${app}"}' --from ${from} --until ${until}\n`
  );
}

export function ingestCommand(): Command {
  return withServerOptions(new Command('ingest'))
    .description('Send profile files to a Kiln server: pprof (raw or gzipped), folded (`a;b;c 12`), `perf script` text, speedscope JSON, OTLP.')
    .argument('<files...>', 'profile files')
    .option('-l, --labels <k=v,...>', 'labels for every profile, e.g. service_name=checkout,env=prod')
    .addOption(new Option('-f, --format <format>', 'input format').choices(['auto', 'pprof', 'folded', 'lines', 'perf', 'speedscope', 'otlp']).default('auto'))
    .option('--type <profileType>', 'profile type for formats that carry none (folded, perf, lines); default: CPU samples, as Pyroscope reads them')
    .option('--from <time>', 'profile start time (Unix seconds or RFC3339); default: the file\'s own, else now')
    .option('--now', 'store the profiles as taken now (or at --from), whatever time the file carries')
    .addHelpText('after', '\nExample:\n  kiln ingest cpu.pb.gz --labels service_name=checkout,env=prod\n  perf script | gzip > perf.txt.gz && kiln ingest perf.txt.gz --labels service_name=batch')
    .action(action(async (files: string[], opts: { labels?: string; format: string; type?: string; from?: string; now?: boolean; url: string; tenant?: string }) => {
      const labels = parseLabelFlag(opts.labels);
      const client = clientFrom(opts);
      let failed = 0;
      for (const [i, file] of files.entries()) {
        const data = await readFile(file).then((b) => new Uint8Array(b), (e: NodeJS.ErrnoException) => {
          throw new InputError(e.code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${e.code ?? e.message})`);
        });
        const format = opts.format === 'auto' ? detectFormat(file, data) : opts.format;
        const app = labels.find(([k]) => k === SERVICE_NAME)?.[1] ?? path.basename(file).replace(/\..*$/, '');
        process.stderr.write(`[${i + 1}/${files.length}] ${file} (${(data.length / 1024).toFixed(1)} KiB, ${format}) … `);
        const params = new URLSearchParams({ name: ingestName(app, labels), format });
        if (opts.type) params.set('profile_type', opts.type);
        if (opts.from) params.set('from', opts.from);
        if (opts.now) params.set('restamp', '1');
        // An OTLP capture names its own services in resource attributes: without --labels it goes to the
        // OTLP endpoint as sent, rather than being filed under the file's name.
        const asOtlp = format === 'otlp' && labels.length === 0;
        const target = asOtlp ? OTLP_HTTP_PATH : `/ingest?${params}`;
        const contentType = asOtlp && data[0] === 0x7b ? OTLP_JSON_TYPE : asOtlp ? OTLP_PROTOBUF_TYPE : 'application/octet-stream';
        try {
          const res = await client.request(target, { method: 'POST', headers: { 'Content-Type': contentType }, body: data });
          const body = await res.text();
          process.stderr.write(`ok${body ? ` ${body.trim()}` : ''}\n`);
          process.stderr.write(whereStored(body, app, opts.now === true));
        } catch (e) {
          process.stderr.write('failed\n');
          if (files.length === 1) throw e;
          process.stderr.write(`  ${(e as Error).message}\n`);
          failed++;
        }
      }
      if (failed > 0) throw new InputError(`${failed} of ${files.length} files were not ingested`);
    }));
}
