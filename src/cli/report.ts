import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { TeamReport } from '../insight/report.js';
import { reportHtml } from '../insight/report-html.js';
import { reportMarkdown } from '../insight/report-markdown.js';
import { CPU_TYPE, profileTypeId } from '../model/profile-type.js';
import { action, clientFrom, out, withServerOptions } from './common.js';
import { withRangeOptions } from './range.js';

type ReportFlags = { url: string; tenant?: string; from: string; until: string; team: string; format: string; output?: string; type: string; top: string; linkUrl?: string };

/**
 * `kiln report --team payments --from now-7d --format html -o report.html`: a team's report from a
 * running server — its services and top functions in cores and money, the change against the period
 * before, new hotspots and the biggest service's flame graph — as HTML (self-contained, flame graph
 * inline as SVG), Markdown or the JSON model. The server computes; this renders (src/insight/report-*.ts).
 */
export function reportCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('report')), 'now-7d')
    .description("A team's report: top functions by cores and cost, change against the previous period, new hotspots, flame graph.")
    .requiredOption('--team <name>', 'the team (from the server config `teams:`, or a `team` label)')
    .addOption(new Option('--format <format>', 'output format').choices(['html', 'markdown', 'json']).default('markdown'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--type <profile type>', 'profile type to report on', profileTypeId(CPU_TYPE))
    .option('--top <n>', 'functions to list', '20')
    .option('--link-url <url>', 'base of the links into the UI (default: --url)')
    .addHelpText('after', '\nExamples:\n  kiln report --team payments --from now-7d --format html -o report.html\n  kiln report --team search --format markdown | mail -s "CPU this week" search@example.com')
    .action(action(async (o: ReportFlags) => {
      const report = await clientFrom(o).getJson<TeamReport>('/api/v1/report', { team: o.team, from: o.from, until: o.until, profile_type: o.type, top: o.top });
      const base = o.linkUrl ?? o.url;
      const text = o.format === 'html' ? reportHtml(report, base) : o.format === 'markdown' ? reportMarkdown(report, base) : `${JSON.stringify(report, null, 2)}\n`;
      if (o.output) {
        await writeFile(o.output, text);
        process.stderr.write(`wrote the ${o.format} report for team ${o.team} to ${o.output}\n`);
      } else await out(text);
    }));
}
