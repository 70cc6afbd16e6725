import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { InputError } from '../model/errors.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import { formatSelector } from '../query/selector.js';
import type { TimeRange } from '../store/store.js';
import type { CompareOptions, CompareReport } from '../insight/compare.js';
import { compareStacks, DEFAULT_ALPHA, DEFAULT_LIMIT } from '../insight/compare.js';
import type { MergedSide } from '../insight/compare-files.js';
import { ProfileFiles } from '../insight/compare-files.js';
import type { Gate } from '../insight/compare-gates.js';
import { parseGate } from '../insight/compare-gates.js';
import type { CompareFormat } from '../insight/compare-render.js';
import { COMPARE_FORMATS, renderCompare } from '../insight/compare-render.js';
import type { SideSpec } from '../insight/compare-sides.js';
import { mergeSide, parseSide } from '../insight/compare-sides.js';
import type { KilnClient } from './client.js';
import { action, clientFrom, EXIT, out, withServerOptions } from './common.js';
import { rangeFrom, withRangeOptions } from './range.js';

interface CompareFlags {
  url: string;
  tenant?: string;
  from: string;
  until: string;
  failOn: string[];
  format: CompareFormat;
  type?: string;
  alpha: string;
  limit: string;
  period?: string;
  output?: string;
}

export interface CompareRequest {
  readonly base: SideSpec;
  readonly head: SideSpec;
  readonly gates: readonly Gate[];
  readonly alpha: number;
  readonly limit: number;
  /** Value per sample for both sides, instead of the one read off the profiles. */
  readonly period?: number;
  /** Profile type to compare when the sides are files. */
  readonly type?: string;
}

/**
 * `kiln compare BASE HEAD`: the regression gate. Two server selections are compared by the server
 * (/api/v1/compare); files, or a file against a selection, here, over the same query-layer merge.
 */
export async function runCompare(req: CompareRequest, client: () => KilnClient): Promise<CompareReport> {
  const opts: CompareOptions = { alpha: req.alpha, gates: req.gates, limit: req.limit };
  if (req.base.kind === 'selection' && req.head.kind === 'selection') {
    const [b, h] = [req.base.selection, req.head.selection];
    const q = new URLSearchParams({
      base_query: formatSelector(b.selector), base_from: String(b.range.from), base_until: String(b.range.to),
      head_query: formatSelector(h.selector), head_from: String(h.range.from), head_until: String(h.range.to),
      alpha: String(req.alpha), limit: String(req.limit),
    });
    if (req.period !== undefined) q.set('period', String(req.period));
    // Repeated, not comma-joined: a gate's regex may hold a comma.
    for (const g of req.gates) q.append('fail_on', g.text);
    return (await (await client().request(`/api/v1/compare?${q}`)).json()) as CompareReport;
  }
  const files = await ProfileFiles.open();
  try {
    const fetchBytes = (path: string, params: Record<string, string | number | undefined>) => client().getBytes(path, params);
    const typeId = req.type ?? (req.head.kind === 'selection' ? req.head.selection.selector.profileType : undefined);
    const base = await mergeSide(files, req.base, fetchBytes, typeId);
    // The head is read in the base's type: comparing CPU with allocations would mean nothing.
    const head = await mergeSide(files, req.head, fetchBytes, profileTypeId(base.type));
    const period = (p: number) => req.period ?? p;
    // Per-stack sample counts (Go heap pairs) unless --period says what one sample is.
    const side = (m: MergedSide) => ({ stacks: m.stacks, period: period(m.period), ...(req.period === undefined ? { counts: m.counts, countsFrom: m.countsFrom } : {}) });
    return compareStacks(base.type, side(base), side(head), opts);
  } finally {
    await files.close();
  }
}

function number(text: string, flag: string, ok: (n: number) => boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new InputError(`${flag} ${text}: not a valid value`);
  return n;
}

export async function compareRequest(baseText: string, headText: string, o: CompareFlags, dflt: TimeRange): Promise<CompareRequest> {
  const gates = o.failOn.map(parseGate);
  const alpha = number(o.alpha, '--alpha', (n) => n > 0 && n < 1);
  const limit = number(o.limit, '--limit', (n) => Number.isInteger(n) && n >= 0);
  const period = o.period === undefined ? undefined : number(o.period, '--period', (n) => n > 0);
  if (o.type !== undefined) parseProfileType(o.type);
  const [base, head] = await Promise.all([parseSide(baseText, dflt), parseSide(headText, dflt)]);
  return { base, head, gates, alpha, limit, period, type: o.type };
}

const collect = (v: string, all: string[]) => [...all, v];

export function compareCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('compare')))
    .description(
      'Regression gate: compare two profiles (files or server selections) by each function\'s share, with a significance test on the sample counts so sampling noise never fails a build.',
    )
    .argument('<base>', 'before: profile file(s) (comma-separated, or a directory) or SELECTOR@RANGE on the server')
    .argument('<head>', 'after: the same forms')
    .option('--fail-on <gate>', "exit 3 when this gate breaks (repeatable): 'any>+20%', 'total(REGEX)>+10%', 'self(REGEX)>+2pp'", collect, [])
    .addOption(new Option('--format <format>', 'report format').choices([...COMPARE_FORMATS]).default('text'))
    .option('-o, --output <file>', 'write the report to a file (gate results still go to stderr)')
    .option('--type <profileType>', 'profile type to compare when files hold several (default: CPU, else the first)')
    .option('--alpha <p>', 'family-wise significance level over all functions', String(DEFAULT_ALPHA))
    .option('-n, --limit <n>', 'functions listed (0 = all; gates always look at every function)', String(DEFAULT_LIMIT))
    .option('--period <value>', 'value of one sample in the type\'s unit (e.g. 10000000 for 100 Hz CPU in ns), if the profiles do not say')
    .addHelpText(
      'after',
      `
Exit codes: 0 no gate broken, 3 a gate broken, 2 bad input, 1 anything else.
Examples:
  kiln compare main.pb.gz pr.pb.gz --fail-on 'any>+20%'
  kiln compare runs/main/ runs/pr/ --fail-on 'total(json\\.Marshal)>+10%' --format junit -o compare.xml
  kiln compare 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api",version="1.4"}@now-2h..now-1h' \\
               'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api",version="1.5"}@now-1h' --fail-on 'self(regexp\\.)>+2pp'
See docs/CI.md.`,
    )
    .action(
      action(async (baseText: string, headText: string, o: CompareFlags) => {
        const req = await compareRequest(baseText, headText, o, rangeFrom(o));
        const report = await runCompare(req, () => clientFrom(o));
        const rendered = renderCompare(report, o.format);
        if (o.output) await writeFile(o.output, rendered);
        else await out(rendered);
        // The gate lines go to stderr as well when stdout carries a machine format or a file got the report.
        if (o.output || o.format === 'json' || o.format === 'junit') for (const g of report.gates) process.stderr.write(`${g.broken ? 'FAIL' : 'ok'} ${g.message}\n`);
        if (!report.passed) process.exitCode = EXIT.gateBroken;
      }),
    );
}
