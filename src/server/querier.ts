import { fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { toDot } from '../formats/dot.js';
import { encodePprof } from '../formats/pprof.js';
import { toFlameGraph, toFlameGraphDiff, toPyroscopeTree } from '../formats/flamebearer.js';
import type { QuerierFlameGraph } from '../formats/flamebearer.js';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { profileTypeId } from '../model/profile-type.js';
import type { LabelQuery } from '../query/labels.js';
import { ProfileSchema } from '../gen/google/v1/profile_pb.js';
import { ProfileFormat, QuerierService } from '../gen/querier/v1/querier_pb.js';
import type { SelectMergeStacktracesRequest } from '../gen/querier/v1/querier_pb.js';
import { ExemplarType, TimeSeriesAggregationType } from '../gen/types/v1/types_pb.js';
import type { ServerContext } from './context.js';
import { withConnectDeadline } from './deadline.js';
import { exemplarMessage, profileReadHandlers } from './querier-profiles.js';
import { rangeFrom, refuseUnservedSelectors, seriesQuery, withIdSelectors } from './selection.js';
import { tenantOf } from './tenant.js';

const int64 = (n: number): bigint => BigInt(Math.round(n));
/** Functions a DOT graph draws unless max_nodes says otherwise (pprof's own -nodecount default is 80). */
const DOT_NODES = 100;
const dotTitle = (id: string) => `Type: ${id}`;

/** The query layer's flame graph (numbers) as the proto message (int64 → bigint). */
const flameGraphMessage = (fg: QuerierFlameGraph) => ({
  names: fg.names,
  levels: fg.levels.map((l) => ({ values: l.values.map(int64) })),
  total: int64(fg.total),
  maxSelf: int64(fg.maxSelf),
});
const pairs = (labels: Labels) => labels.map((l) => ({ name: l.name, value: l.value }));
/** `stack_trace_selector.call_site` as function names, root first (the query layer filters by it). */
const callSiteOf = (r: { stackTraceSelector?: { callSite: { name: string }[] } }): string[] => r.stackTraceSelector?.callSite.map((l) => l.name) ?? [];

/**
 * `querier.v1.QuerierService` — the API Grafana's Pyroscope data source, Profiles Drilldown and Kiln's
 * UI read. Served over Connect (JSON and protobuf), gRPC and gRPC-web by the same handlers.
 */
export function querierRoutes(router: ConnectRouter, ctx: ServerContext): void {
  // Unset or 0 → the engine's default; never more than the server's cap.
  const maxNodesOf = (requested: bigint | undefined): number | undefined =>
    requested === undefined || requested <= 0n ? undefined : Math.min(Number(requested), ctx.limits.maxNodes);
  // A pprof is cut only when asked (Pyroscope: unset or 0 = whole profile), and never past the server's cap.
  const pprofMaxNodes = (requested: bigint | undefined): number =>
    requested === undefined || requested <= 0n ? 0 : Math.min(Number(requested), ctx.limits.maxNodes);
  const selection = (tenant: string, r: SelectMergeStacktracesRequest | undefined, side: string, signal: AbortSignal) => {
    if (!r) throw new InputError(`diff request has no ${side} selection`);
    refuseUnservedSelectors(r);
    return withIdSelectors(seriesQuery(tenant, r.profileTypeID, r.labelSelector, rangeFrom(r.start, r.end), signal), r);
  };
  const listing = (hc: HandlerContext, req: { matchers: string[]; start: bigint; end: bigint }, signal: AbortSignal): LabelQuery => ({
    tenant: tenantOf(hc.requestHeader),
    selectors: req.matchers,
    ...rangeFrom(req.start, req.end),
    signal,
  });
  /** Every method: timed in the query metrics, run under the request's deadline (deadline.ts). */
  const timed = <T>(endpoint: string, hc: HandlerContext, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    ctx.metrics.timeQuery(`querier.${endpoint}`, () => withConnectDeadline(hc, ctx.limits.readDeadlineMs, run));

  router.service(QuerierService, {
    ...profileReadHandlers(ctx, timed),
    profileTypes: (req, hc: HandlerContext) =>
      timed('ProfileTypes', hc, async (signal) => {
        const types = await ctx.query.profileTypes(listing(hc, { matchers: [], start: req.start, end: req.end }, signal));
        return {
          profileTypes: types.map((t) => ({
            ID: profileTypeId(t),
            name: t.name,
            sampleType: t.sampleType,
            sampleUnit: t.sampleUnit,
            periodType: t.periodType,
            periodUnit: t.periodUnit,
          })),
        };
      }),

    labelNames: (req, hc) => timed('LabelNames', hc, async (signal) => ({ names: await ctx.query.labelNames(listing(hc, req, signal)) })),

    labelValues: (req, hc) =>
      timed('LabelValues', hc, async (signal) => {
        if (req.name === '') throw new InputError('label name is required');
        return { names: await ctx.query.labelValues(listing(hc, req, signal), req.name) };
      }),

    series: (req, hc) =>
      timed('Series', hc, async (signal) => {
        const sets = await ctx.query.seriesLabels(listing(hc, req, signal), req.labelNames);
        return { labelsSet: sets.map((labels) => ({ labels: pairs(labels) })) };
      }),

    selectMergeStacktraces: (req, hc) =>
      timed('SelectMergeStacktraces', hc, async (signal) => {
        const q = selection(tenantOf(hc.requestHeader), req, 'query', signal);
        if (req.format === ProfileFormat.PPROF) {
          const profile = await ctx.query.mergeProfile(q, { callSite: callSiteOf(req) }, pprofMaxNodes(req.maxNodes));
          return { pprof: { profile: fromBinary(ProfileSchema, encodePprof(profile)) } };
        }
        if (req.format === ProfileFormat.DOT) {
          const graph = await ctx.query.callgraph(q, { callSite: callSiteOf(req) });
          return { dot: toDot(graph, { title: dotTitle(req.profileTypeID), maxNodes: maxNodesOf(req.maxNodes) ?? DOT_NODES }) };
        }
        const tree = await ctx.query.flamegraph(q, { maxNodes: maxNodesOf(req.maxNodes), callSite: callSiteOf(req) });
        if (req.format === ProfileFormat.TREE) return { tree: toPyroscopeTree(tree) };
        return { flamegraph: flameGraphMessage(toFlameGraph(tree)) };
      }),

    // Tempo's traces-to-profiles: the merge of the samples recorded inside the given spans.
    selectMergeSpanProfile: (req, hc) =>
      timed('SelectMergeSpanProfile', hc, async (signal) => {
        if (req.spanSelector.length === 0) throw new InputError('span_selector is empty: name the span ids (16 hex digits) whose samples to merge');
        const q = seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end), signal);
        const tree = await ctx.query.flamegraph(withIdSelectors(q, { spanSelector: req.spanSelector, profileIdSelector: [] }), { maxNodes: maxNodesOf(req.maxNodes) });
        if (req.format === ProfileFormat.TREE) return { tree: toPyroscopeTree(tree) };
        return { flamegraph: flameGraphMessage(toFlameGraph(tree)) };
      }),

    selectMergeProfile: (req, hc) =>
      timed('SelectMergeProfile', hc, async (signal) => {
        refuseUnservedSelectors(req);
        const q = withIdSelectors(seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end), signal), req);
        const profile = await ctx.query.mergeProfile(q, { callSite: callSiteOf(req) }, pprofMaxNodes(req.maxNodes));
        return fromBinary(ProfileSchema, encodePprof(profile));
      }),

    selectSeries: (req, hc) =>
      timed('SelectSeries', hc, async (signal) => {
        const q = seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end), signal);
        if (callSiteOf(req).length > 0) {
          // Totals per bucket come from the store, which does not filter by stack; refuse rather than answer wrong.
          throw new ConnectError('SelectSeries with a stack_trace_selector is not supported by Kiln', Code.Unimplemented);
        }
        if (!(req.step > 0) || !Number.isFinite(req.step)) throw new InputError('step must be a positive number of seconds');
        const stepMs = Math.max(1, Math.round(req.step * 1000));
        const aggregation = req.aggregation === TimeSeriesAggregationType.AVERAGE ? 'avg' : 'sum';
        const limit = req.limit !== undefined && req.limit > 0n ? Number(req.limit) : 0;
        const exemplars = req.exemplarType === ExemplarType.INDIVIDUAL ? 'profiles' : req.exemplarType === ExemplarType.SPAN ? 'spans' : undefined;
        const series = exemplars
          ? await ctx.query.seriesWithExemplars(exemplars, q, stepMs, req.groupBy, aggregation, limit)
          : await ctx.query.series(q, stepMs, req.groupBy, aggregation, limit);
        return {
          series: series.map((s) => ({
            labels: pairs(s.labels),
            points: s.points.map((p) => ({
              value: p.value,
              timestamp: int64(p.timeMs),
              annotations: [],
              exemplars: 'exemplar' in p && p.exemplar ? [exemplarMessage(p.exemplar)] : [],
            })),
          })),
        };
      }),

    diff: (req, hc) =>
      timed('Diff', hc, async (signal) => {
        const tenant = tenantOf(hc.requestHeader);
        const left = selection(tenant, req.left, 'left', signal);
        const right = selection(tenant, req.right, 'right', signal);
        const { tree } = await ctx.query.diff(left, right, { maxNodes: maxNodesOf(req.left?.maxNodes ?? req.right?.maxNodes) });
        const fg = toFlameGraphDiff(tree);
        return { flamegraph: { ...flameGraphMessage(fg), leftTicks: int64(fg.leftTicks), rightTicks: int64(fg.rightTicks) } };
      }),

    getProfileStats: (_req, hc) =>
      timed('GetProfileStats', hc, async (signal) => {
        const bounds = await ctx.query.timeBounds(tenantOf(hc.requestHeader), signal);
        if (!bounds) return { dataIngested: false, oldestProfileTime: 0n, newestProfileTime: 0n };
        return { dataIngested: true, oldestProfileTime: int64(bounds.oldestMs), newestProfileTime: int64(bounds.newestMs) };
      }),
  });
}
