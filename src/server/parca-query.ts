import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Duration, Timestamp } from '@bufbuild/protobuf/wkt';
import { diffTreeArrow, flameTreeArrow } from '../formats/parca-arrow.js';
import type { FlamegraphArrow } from '../formats/parca-arrow.js';
import { encodeTableArrow } from '../formats/parca-table-arrow.js';
import { encodePprof } from '../formats/pprof.js';
import { InputError } from '../model/errors.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseSelector } from '../query/selector.js';
import { checkRange } from '../query/time.js';
import type { FlameNode } from '../query/tree.js';
import type { DiffNode } from '../query/diff.js';
import type { SeriesQuery } from '../store/store.js';
import { QueryRequest_Mode, QueryRequest_ReportType, QueryService, ProfileDiffSelection_Mode } from '../gen/parca/query/v1alpha1/query_pb.js';
import type { FlamegraphNodeSchema, ProfileDiffSelection, QueryRequest, QueryResponseSchema } from '../gen/parca/query/v1alpha1/query_pb.js';

type NodeInit = MessageInitShape<typeof FlamegraphNodeSchema>;
type Answer = MessageInitShape<typeof QueryResponseSchema>;
import type { ServerContext } from './context.js';
import { withConnectDeadline } from './deadline.js';
import { tenantOf } from './tenant.js';

const ms = (t: Timestamp | undefined, fallback: number): number => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : fallback);
const timestamp = (msSinceEpoch: number) => ({ seconds: BigInt(Math.floor(msSinceEpoch / 1000)), nanos: (msSinceEpoch % 1000) * 1e6 });
const durationMs = (d: Duration | undefined): number => (d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0);
const int64 = (n: number): bigint => BigInt(Math.round(n));

/** A Parca node's metadata: the function by name (Kiln's frames are grouped by function, as Parca's default group_by). */
const meta = (name: string) => ({ function: { name }, line: {}, location: {} });

/**
 * `parca.query.v1alpha1.QueryService` — what the Parca UI, `@parca/client` and Grafana's Parca data
 * source read, over gRPC, gRPC-web and Connect on Kiln's one port. Parca's query strings are Kiln
 * selectors (`process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta{job="api"}`); times are protobuf
 * Timestamps. Requests Kiln cannot answer as asked are refused, never answered as another question:
 * source, metadata and flame charts are Unimplemented; filters, inverted stacks, sandwich and a group_by other than function names are
 * InvalidArgument.
 */
export function parcaQueryRoutes(router: ConnectRouter, ctx: ServerContext): void {
  const timed = <T>(endpoint: string, hc: HandlerContext, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    ctx.metrics.timeQuery(`parca.${endpoint}`, () => withConnectDeadline(hc, ctx.limits.readDeadlineMs, run));
  const selection = (hc: HandlerContext, query: string, from: number, to: number, signal: AbortSignal): SeriesQuery => {
    if (query.trim() === '') throw new InputError('query is required, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta{job="api"}');
    const range = { from, to };
    checkRange(range);
    return { tenant: tenantOf(hc.requestHeader), selector: parseSelector(query), ...range, signal };
  };
  /** A single profile is the one stamped at `time`: Kiln reads the millisecond it starts in. */
  const side = (hc: HandlerContext, s: ProfileDiffSelection | undefined, name: string, signal: AbortSignal): SeriesQuery => {
    if (!s) throw new InputError(`diff: selection ${name} is missing`);
    if (s.mode === ProfileDiffSelection_Mode.MERGE && s.options.case === 'merge') {
      const m = s.options.value;
      return selection(hc, m.query, ms(m.start, 0), ms(m.end, Date.now()), signal);
    }
    if (s.options.case === 'single') {
      const t = ms(s.options.value.time, 0);
      return selection(hc, s.options.value.query, t, t + 1, signal);
    }
    throw new InputError(`diff: selection ${name} has no merge or single options`);
  };
  const listing = (hc: HandlerContext, match: string[], profileType: string | undefined, start: Timestamp | undefined, end: Timestamp | undefined, signal: AbortSignal) => {
    const selectors = match.filter((m) => m.trim() !== '');
    // A pinned profile type narrows every matcher set (or selects it alone).
    const pinned = profileType ? (selectors.length > 0 ? selectors.map((m) => `${profileType}${m.startsWith('{') ? m : `{}`}`) : [`${profileType}{}`]) : selectors;
    return { tenant: tenantOf(hc.requestHeader), selectors: pinned, from: ms(start, 0), to: ms(end, Date.now()), signal };
  };

  router.service(QueryService, {
    profileTypes: (req, hc) =>
      timed('ProfileTypes', hc, async (signal) => {
        const types = await ctx.query.profileTypes({ tenant: tenantOf(hc.requestHeader), selectors: [], from: ms(req.start, 0), to: ms(req.end, Date.now()), signal });
        // Every Kiln profile covers its own window and merges by summing: Parca's delta profiles.
        return { types: types.map((t) => ({ ...t, delta: true })) };
      }),

    labels: (req, hc) =>
      timed('Labels', hc, async (signal) => ({ labelNames: await ctx.query.labelNames(listing(hc, req.match, req.profileType, req.start, req.end, signal)), warnings: [] })),

    values: (req, hc) =>
      timed('Values', hc, async (signal) => {
        if (req.labelName === '') throw new InputError('label_name is required');
        const values = await ctx.query.labelValues(listing(hc, req.match, req.profileType, req.start, req.end, signal), req.labelName);
        return { labelValues: values, warnings: [] };
      }),

    series: () => ({}),

    hasProfileData: (_req, hc) =>
      timed('HasProfileData', hc, async (signal) => ({ hasData: (await ctx.query.timeBounds(tenantOf(hc.requestHeader), signal)) !== undefined })),

    shareProfile: () => {
      throw new ConnectError('sharing profiles through a public service is not offered by Kiln', Code.Unimplemented);
    },

    queryRange: (req, hc) =>
      timed('QueryRange', hc, async (signal) => {
        const q = selection(hc, req.query, ms(req.start, 0), ms(req.end, Date.now()), signal);
        const stepMs = durationMs(req.step) || Math.max(1000, Math.ceil((q.to - q.from) / 300));
        const series = await ctx.query.series(q, stepMs, req.sumBy, 'sum', req.limit);
        const type = typeOf(q);
        return {
          series: series.map((s) => ({
            labelset: { labels: s.labels.map((l) => ({ name: l.name, value: l.value })) },
            periodType: { type: type.periodType, unit: type.periodUnit },
            sampleType: { type: type.sampleType, unit: type.sampleUnit },
            samples: s.points.map((p) => ({
              timestamp: timestamp(p.timeMs),
              value: int64(p.value),
              valuePerSecond: p.value / (stepMs / 1000),
              duration: int64(stepMs * 1e6),
            })),
          })),
        };
      }),

    query: (req, hc) => timed('Query', hc, (signal) => answerQuery(ctx, hc, req, signal, selection, side)),
  });
}

type Selection = (hc: HandlerContext, query: string, from: number, to: number, signal: AbortSignal) => SeriesQuery;
type Side = (hc: HandlerContext, s: ProfileDiffSelection | undefined, name: string, signal: AbortSignal) => SeriesQuery;

function typeOf(q: SeriesQuery): ProfileType {
  const [name = '', sampleType = '', sampleUnit = '', periodType = '', periodUnit = ''] = q.selector.profileType.split(':');
  return { name, sampleType, sampleUnit, periodType, periodUnit };
}

/** Refuses what Kiln would otherwise silently leave out of the answer. */
function refuseUnserved(req: QueryRequest): void {
  if (req.filter.length > 0 || (req.filterQuery ?? '') !== '') throw new InputError('Parca filters are not supported by Kiln: query without filter');
  if (req.invertCallStack) throw new InputError('invert_call_stack is not supported by Kiln');
  if ((req.sandwichByFunction ?? '') !== '') throw new InputError('sandwich_by_function is not supported by Kiln');
  const groups = req.groupBy?.fields ?? [];
  if (groups.some((f) => f !== 'function_name')) throw new InputError(`group_by ${groups.join(',')}: Kiln groups frames by function_name only`);
}

async function answerQuery(ctx: ServerContext, hc: HandlerContext, req: QueryRequest, signal: AbortSignal, selection: Selection, side: Side): Promise<Answer> {
  refuseUnserved(req);
  const report = req.reportType;
  const unimplemented: Partial<Record<QueryRequest_ReportType, string>> = {
    [QueryRequest_ReportType.SOURCE]: 'SOURCE reports are not served by Kiln (no source files are stored)',
    [QueryRequest_ReportType.PROFILE_METADATA]: 'PROFILE_METADATA reports are not served by Kiln',
    [QueryRequest_ReportType.FLAMECHART]: 'FLAMECHART reports are not served by Kiln (profiles are merged, not kept as timelines)',
  };
  const refusal = unimplemented[report];
  if (refusal) throw new ConnectError(refusal, Code.Unimplemented);
  // A percentage of the parent's value (the Parca UI sends 100 / its width in pixels), as Parca reads it.
  const trimPercent = req.nodeTrimThreshold ?? 0;
  if (!(trimPercent >= 0 && trimPercent <= 100)) throw new InputError(`node_trim_threshold ${trimPercent} is not a percentage in [0, 100]`);
  const trimThreshold = trimPercent / 100;
  const arrowAnswer = (a: FlamegraphArrow, unit: string, total: number): Answer => ({
    report: { case: 'flamegraphArrow' as const, value: { record: a.record, unit, height: a.height, trimmed: int64(a.trimmed) } },
    total: int64(total),
    filtered: 0n,
  });
  const tableArrowAnswer = (record: Uint8Array, unit: string, total: number): Answer => ({
    report: { case: 'tableArrow' as const, value: { record, unit } },
    total: int64(total),
    filtered: 0n,
  });

  if (req.mode === QueryRequest_Mode.DIFF) {
    if (req.options.case !== 'diff') throw new InputError('mode DIFF needs diff options');
    const base = side(hc, req.options.value.a, 'a', signal);
    const head = side(hc, req.options.value.b, 'b', signal);
    // Parca compares shares unless asked for absolute values; Kiln scales the base to the head's total,
    // the same for every report, so the flame graph, the table and TOP of one diff agree.
    const normalize = !(req.options.value.absolute ?? false);
    if (report === QueryRequest_ReportType.FLAMEGRAPH_ARROW) {
      const { tree } = await ctx.query.diff(base, head, { normalize, maxNodes: ctx.limits.maxNodes });
      return arrowAnswer(diffTreeArrow(tree, { trimThreshold }), typeOf(head).sampleUnit, tree.headTotal);
    }
    if (report === QueryRequest_ReportType.TABLE_ARROW) {
      const [{ table }, graph] = await Promise.all([ctx.query.diff(base, head, { normalize }), ctx.query.callgraph(head)]);
      const changes = new Map(table.entries.map((e) => [e.name, { flat: e.selfChange, cumulative: e.totalChange }]));
      return tableArrowAnswer(encodeTableArrow(graph, changes), typeOf(head).sampleUnit, graph.total);
    }
    if (report === QueryRequest_ReportType.FLAMEGRAPH_TABLE || report === QueryRequest_ReportType.FLAMEGRAPH_UNSPECIFIED) {
      const { tree } = await ctx.query.diff(base, head, { normalize, maxNodes: ctx.limits.maxNodes });
      const node = (n: DiffNode): NodeInit => ({
        meta: meta(n.name),
        cumulative: int64(n.headTotal),
        diff: int64(n.headTotal - n.baseTotal),
        children: n.children.map(node),
      });
      const root = { cumulative: int64(tree.headTotal), diff: int64(tree.headTotal - tree.baseTotal), children: tree.children.map(node) };
      return { report: { case: 'flamegraph' as const, value: { root, unit: typeOf(head).sampleUnit, height: depth(tree) } }, total: int64(tree.headTotal), filtered: 0n };
    }
    if (report === QueryRequest_ReportType.TOP) {
      // Largest change first; a function only the base has is listed with its loss.
      const { table } = await ctx.query.diff(base, head, { normalize });
      const list = table.entries.map((e) => ({ meta: meta(e.name), cumulative: int64(e.headTotal), flat: int64(e.headSelf), diff: int64(e.totalChange) }));
      return { report: { case: 'top' as const, value: { list, reported: list.length, unit: typeOf(head).sampleUnit } }, total: int64(table.headTotal), filtered: 0n };
    }
    throw new InputError('a DIFF is served as FLAMEGRAPH_ARROW, TABLE_ARROW, FLAMEGRAPH_TABLE or TOP');
  }

  let q: SeriesQuery;
  if (req.mode === QueryRequest_Mode.MERGE && req.options.case === 'merge') {
    q = selection(hc, req.options.value.query, ms(req.options.value.start, 0), ms(req.options.value.end, Date.now()), signal);
  } else if (req.options.case === 'single') {
    const t = ms(req.options.value.time, 0);
    q = selection(hc, req.options.value.query, t, t + 1, signal);
  } else {
    throw new InputError('query needs merge options (mode MERGE) or single options (mode SINGLE)');
  }
  const unit = typeOf(q).sampleUnit;
  switch (report) {
    case QueryRequest_ReportType.PPROF: {
      const profile = await ctx.query.mergeProfile(q);
      const total = profile.values.reduce((a, v) => a + v, 0);
      return { report: { case: 'pprof' as const, value: encodePprof(profile) }, total: int64(total), filtered: 0n };
    }
    case QueryRequest_ReportType.TOP: {
      const top = await ctx.query.top(q, { sort: 'self' });
      const list = top.entries.map((e) => ({ meta: meta(e.name), cumulative: int64(e.total), flat: int64(e.self), diff: 0n }));
      return { report: { case: 'top' as const, value: { list, reported: list.length, unit } }, total: int64(top.total), filtered: 0n };
    }
    case QueryRequest_ReportType.CALLGRAPH: {
      const g = await ctx.query.callgraph(q);
      const ids = new Map(g.nodes.map((n, i) => [n.name, String(i + 1)]));
      const nodes = g.nodes.map((n) => ({ id: ids.get(n.name)!, meta: meta(n.name), cumulative: int64(n.cumulative), flat: int64(n.flat) }));
      const edges = g.edges.map((e, i) => ({ id: `e${i + 1}`, source: ids.get(e.caller)!, target: ids.get(e.callee)!, cumulative: int64(e.cumulative), isCollapsed: false }));
      return { report: { case: 'callgraph' as const, value: { nodes, edges } }, total: int64(g.total), filtered: 0n };
    }
    case QueryRequest_ReportType.FLAMEGRAPH_ARROW: {
      const tree = await ctx.query.flamegraph(q, { maxNodes: ctx.limits.maxNodes });
      return arrowAnswer(flameTreeArrow(tree, { trimThreshold }), unit, tree.total);
    }
    case QueryRequest_ReportType.TABLE_ARROW: {
      const graph = await ctx.query.callgraph(q);
      return tableArrowAnswer(encodeTableArrow(graph), unit, graph.total);
    }
    case QueryRequest_ReportType.FLAMEGRAPH_TABLE:
    case QueryRequest_ReportType.FLAMEGRAPH_UNSPECIFIED: {
      const tree = await ctx.query.flamegraph(q, { maxNodes: ctx.limits.maxNodes });
      const node = (n: FlameNode): NodeInit => ({
        meta: meta(n.name),
        cumulative: int64(n.total),
        diff: 0n,
        children: n.children.map(node),
      });
      const root = { cumulative: int64(tree.total), diff: 0n, children: tree.children.map(node) };
      return { report: { case: 'flamegraph' as const, value: { root, unit, height: depth(tree) } }, total: int64(tree.total), filtered: 0n };
    }
    default:
      throw new InputError(`report type ${report} is not known`);
  }
}

function depth(n: { children: readonly { children: readonly unknown[] }[] }): number {
  let d = 0;
  for (const c of n.children) d = Math.max(d, depth(c as typeof n));
  return d + 1;
}
