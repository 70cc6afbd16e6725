import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { InputError, formatLabels } from '../model/index.js';
import type { Labels } from '../model/index.js';
import { formatSelector, parseSelector } from '../query/selector.js';
import { parseSelection } from '../query/selection.js';
import { parseRange } from '../query/time.js';
import type { DiffTable } from '../query/diff.js';
import type { TopEntry } from '../query/top.js';
import { formatMoney, perMonth, perWeek } from '../insight/cost.js';
import type { CostedTopTable } from '../insight/cost-top.js';
import { isCosted } from '../insight/cost-top.js';
import { action, clientFrom, out, withServerOptions } from './common.js';
import { withRangeOptions } from './range.js';
import { formatTable, formatValue, percent } from './table.js';

type ServerFlags = { url: string; tenant?: string };
type RangeFlags = { from: string; until: string };
type FilterFlags = { focus?: string; hide?: string; focusBinary?: string; hideBinary?: string };

/** Validate locally so a typo fails at once with the column of the problem. */
function checkedSelector(text: string): string {
  parseSelector(text);
  return text;
}

function withFilterOptions(cmd: Command): Command {
  return cmd
    .option('--focus <regex>', 'only stacks through a function matching this, re-rooted at it')
    .option('--hide <regex>', 'drop frames of functions matching this (their callees stay)')
    .option('--focus-binary <regex>', 'only stacks through a binary (mapping) matching this')
    .option('--hide-binary <regex>', 'drop frames of binaries matching this');
}

function filterParams(f: FilterFlags): Record<string, string | undefined> {
  return { focus: f.focus, hide: f.hide, focus_binary: f.focusBinary, hide_binary: f.hideBinary };
}

function topCommand(): Command {
  return withFilterOptions(withRangeOptions(withServerOptions(new Command('top'))))
    .description('Top functions by self and total value over a range.')
    .argument('<selector>', 'e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="checkout"}')
    .addOption(new Option('--sort <key>', 'order').choices(['self', 'total', 'name']).default('self'))
    .option('-n, --limit <n>', 'rows to show', '20')
    .option('--filter <regex>', 'only functions whose name matches')
    .option('--json', 'print JSON', false)
    .addOption(new Option('--cost-per <period>', 'with the server\'s cost: prices, show cost per week or per month').choices(['week', 'month']).default('week'))
    .action(action(async (selector: string, o: ServerFlags & RangeFlags & FilterFlags & { sort: string; limit: string; filter?: string; json: boolean; costPer: 'week' | 'month' }) => {
      const res = await clientFrom(o).getJson<CostedTopTable & { unit: string }>('/api/v1/top', {
        query: checkedSelector(selector), from: o.from, until: o.until, sort: o.sort, limit: o.limit, filter: o.filter, ...filterParams(o),
      });
      if (o.json) return out(JSON.stringify(res, null, 2));
      if (res.entries.length === 0) return out('no samples match this selector and range (see `kiln labels` and `kiln types`)');
      // A server with `cost:` prices each row: shown per week or month (self: the money burnt in the function itself).
      const cost = res.cost;
      const per = o.costPer === 'month' ? perMonth : perWeek;
      const costs = (e: TopEntry) => (cost && isCosted(e) ? [formatMoney(per(e.selfCost, cost.rangeMs), cost.currency), formatMoney(per(e.totalCost, cost.rangeMs), cost.currency)] : []);
      const period = o.costPer.toUpperCase();
      await out(formatTable(
        ['SELF', 'SELF%', 'TOTAL', 'TOTAL%', ...(cost ? [`SELF COST/${period}`, `TOTAL COST/${period}`] : []), 'FUNCTION'],
        res.entries.map((e) => [formatValue(e.self, res.unit), percent(e.self, res.total), formatValue(e.total, res.unit), percent(e.total, res.total), ...costs(e), e.name]),
      ));
    }));
}

function flamegraphCommand(): Command {
  return withFilterOptions(withRangeOptions(withServerOptions(new Command('flamegraph'))))
    .description('The merged flame graph of a range: folded stacks, querier.v1 FlameGraph JSON, or pprof.')
    .argument('<selector>', 'series to merge')
    .addOption(new Option('--format <format>', 'output format').choices(['folded', 'json', 'pprof']).default('folded'))
    .option('--max-nodes <n>', 'JSON: keep at most this many nodes (the rest folds into "other")', '1024')
    .option('-o, --output <file>', 'write to a file instead of stdout (pprof needs one unless stdout is piped)')
    .action(action(async (selector: string, o: ServerFlags & RangeFlags & FilterFlags & { format: string; maxNodes: string; output?: string }) => {
      await writeMerged(o, selector, o.format, o.output, { max_nodes: o.maxNodes });
    }));
}

async function writeMerged(o: ServerFlags & RangeFlags & FilterFlags, selector: string, format: string, output: string | undefined, extra: Record<string, string> = {}): Promise<void> {
  const params = { query: checkedSelector(selector), from: o.from, until: o.until, format, ...filterParams(o), ...extra };
  const bytes = await clientFrom(o).getBytes('/api/v1/flamegraph', params);
  if (format === 'pprof' && !output && process.stdout.isTTY) throw new InputError('pprof is binary: pass -o FILE or pipe stdout');
  if (output) {
    await writeFile(output, bytes);
    process.stderr.write(`wrote ${bytes.length} bytes to ${output}\n`);
  } else {
    await new Promise<void>((resolve) => process.stdout.write(bytes, () => resolve()));
  }
}

interface SeriesResponse {
  unit: string;
  stepMs: number;
  series: { labels: Labels; points: { timeMs: number; value: number }[] }[];
}

function seriesCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('series')))
    .description('Totals over time, bucketed by --step and grouped by labels.')
    .argument('<selector>', 'series to sum')
    .option('--step <duration>', 'bucket width, e.g. 10s, 1m (default: about 1500 points over the range, a multiple of 10s)')
    .option('--by <labels>', 'group by these labels, comma-separated (e.g. pod)')
    .addOption(new Option('--aggregation <agg>', 'per bucket').choices(['sum', 'avg']).default('sum'))
    .option('--json', 'print JSON', false)
    .action(action(async (selector: string, o: ServerFlags & RangeFlags & { step?: string; by?: string; aggregation: string; json: boolean }) => {
      const res = await clientFrom(o).getJson<SeriesResponse>('/api/v1/series', {
        query: checkedSelector(selector), from: o.from, until: o.until, step: o.step, group_by: o.by, aggregation: o.aggregation,
      });
      if (o.json) return out(JSON.stringify(res, null, 2));
      if (res.series.length === 0) return out('no samples match this selector and range');
      const rows = res.series.flatMap((s) =>
        s.points.map((p) => [new Date(p.timeMs).toISOString(), formatLabels(s.labels), formatValue(p.value, res.unit)] as const),
      );
      await out(formatTable(['TIME', 'SERIES', 'VALUE'], rows));
    }));
}

function diffCommand(): Command {
  return withFilterOptions(withRangeOptions(withServerOptions(new Command('diff'))))
    .description('Compare two selections (two ranges, or two label sets): functions sorted by change.')
    .requiredOption('--base <selector@range>', "baseline, e.g. 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{version=\"1.4\"}@now-2h..now-1h'")
    .requiredOption('--head <selector@range>', 'comparison, same form (without @range: --from/--until)')
    .option('--normalize', 'compare shares instead of absolute values (different durations / replica counts)', false)
    .addOption(new Option('--sort <key>', 'by change in').choices(['self', 'total']).default('self'))
    .option('-n, --limit <n>', 'rows to show', '20')
    .option('--json', 'print JSON', false)
    .action(action(async (o: ServerFlags & RangeFlags & FilterFlags & { base: string; head: string; normalize: boolean; sort: string; limit: string; json: boolean }) => {
      const dflt = parseRange(o.from, o.until);
      const base = parseSelection(o.base, dflt);
      const head = parseSelection(o.head, dflt);
      const res = await clientFrom(o).getJson<{ unit: string; table: DiffTable }>('/api/v1/diff', {
        base_query: formatSelector(base.selector), base_from: base.range.from, base_until: base.range.to,
        head_query: formatSelector(head.selector), head_from: head.range.from, head_until: head.range.to,
        normalize: o.normalize ? 'true' : undefined, sort: o.sort, limit: o.limit, ...filterParams(o),
      });
      if (o.json) return out(JSON.stringify(res, null, 2));
      const t = res.table;
      const change = (e: DiffTable['entries'][number]) => (o.sort === 'total' ? e.headTotal - e.baseTotal : e.headSelf - e.baseSelf);
      await out(`base total ${formatValue(t.baseTotal, res.unit)}, head total ${formatValue(t.headTotal, res.unit)}\n`);
      await out(formatTable(
        ['CHANGE', 'BASE', 'HEAD', 'FUNCTION'],
        t.entries.map((e) => {
          const c = change(e);
          const [b, h] = o.sort === 'total' ? [e.baseTotal, e.headTotal] : [e.baseSelf, e.headSelf];
          return [`${c >= 0 ? '+' : '-'}${formatValue(Math.abs(c), res.unit)}`, formatValue(b, res.unit), formatValue(h, res.unit), e.name];
        }),
      ));
    }));
}

export function queryCommand(): Command {
  return new Command('query')
    .description('Query profiles: top functions, flame graphs, time series, diffs.')
    .addCommand(topCommand())
    .addCommand(flamegraphCommand())
    .addCommand(seriesCommand())
    .addCommand(diffCommand())
    .addHelpText('after', `
Selectors are a profile type followed by Prometheus label matchers (= != =~ !~):
  kiln query top 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="checkout"}' --from now-1h
  kiln query flamegraph '…{service_name="checkout"}' --format pprof -o checkout.pb.gz
  kiln query series '…{namespace="shop"}' --step 15s --by pod
  kiln query diff --base '…{version="1.4"}@now-1h' --head '…{version="1.5"}@now-1h'`);
}

/** `kiln export`: the merge of a selection as pprof (for `go tool pprof`) or folded (for flamegraph.pl). */
export function exportCommand(): Command {
  return withFilterOptions(withRangeOptions(withServerOptions(new Command('export'))))
    .description('Export the merged profile of a selection as pprof or folded stacks.')
    .argument('<selector>', 'series to merge')
    .addOption(new Option('--format <format>', 'output format').choices(['pprof', 'folded']).default('pprof'))
    .option('-o, --output <file>', 'output file (default stdout when piped)')
    .action(action(async (selector: string, o: ServerFlags & RangeFlags & FilterFlags & { format: string; output?: string }) => {
      await writeMerged(o, selector, o.format, o.output);
    }));
}
