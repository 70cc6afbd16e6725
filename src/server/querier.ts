import { fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { encodePprof } from '../formats/pprof.js';
import { toFlameGraph, toFlameGraphDiff, toPyroscopeTree } from '../formats/flamebearer.js';
import type { QuerierFlameGraph } from '../formats/flamebearer.js';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { profileTypeId } from '../model/profile-type.js';
import { DEFAULT_MAX_NODES } from '../query/engine.js';
import type { WeightedStack } from '../query/stacks.js';
import { buildTree } from '../query/tree.js';
import { ProfileSchema } from '../gen/google/v1/profile_pb.js';
import { ProfileFormat, QuerierService } from '../gen/querier/v1/querier_pb.js';
import type { SelectMergeStacktracesRequest } from '../gen/querier/v1/querier_pb.js';
import { TimeSeriesAggregationType } from '../gen/types/v1/types_pb.js';
import type { ServerContext } from './context.js';
import { PROFILE_TYPE_LABEL, rangeFrom, seriesQueriesFor, seriesQuery } from './selection.js';
import { tenantOf } from './tenant.js';

const int64 = (n: number): bigint => BigInt(Math.round(n));
/** Only the stacks that start (root first) with the call site, as Pyroscope's StackTraceSelector selects. */
function withCallSite(stacks: readonly WeightedStack[], callSite: readonly string[]): WeightedStack[] {
  return stacks.filter((s) => s.frames.length >= callSite.length && callSite.every((name, i) => s.frames[i]!.name === name));
}

/** The query layer's flame graph (numbers) as the proto message (int64 → bigint). */
const flameGraphMessage = (fg: QuerierFlameGraph) => ({
  names: fg.names,
  levels: fg.levels.map((l) => ({ values: l.values.map(int64) })),
  total: int64(fg.total),
  maxSelf: int64(fg.maxSelf),
});
const pairs = (labels: Labels) => labels.map((l) => ({ name: l.name, value: l.value }));

/**
 * `querier.v1.QuerierService` — the API Grafana's Pyroscope data source, Profiles Drilldown and Kiln's
 * UI read. Served over Connect (JSON and protobuf), gRPC and gRPC-web by the same handlers.
 */
export function querierRoutes(router: ConnectRouter, ctx: ServerContext): void {
  // Unset or 0 → the engine's default; never more than the server's cap.
  const maxNodesOf = (requested: bigint | undefined): number | undefined =>
    requested === undefined || requested <= 0n ? undefined : Math.min(Number(requested), ctx.limits.maxNodes);
  const selection = (tenant: string, r: SelectMergeStacktracesRequest | undefined, side: string) => {
    if (!r) throw new InputError(`diff request has no ${side} selection`);
    return seriesQuery(tenant, r.profileTypeID, r.labelSelector, rangeFrom(r.start, r.end));
  };
  const timed = <T>(endpoint: string, run: () => Promise<T>): Promise<T> => ctx.metrics.timeQuery(`querier.${endpoint}`, run);

  router.service(QuerierService, {
    profileTypes: (req, hc: HandlerContext) =>
      timed('ProfileTypes', async () => {
        const types = await ctx.store.profileTypes({ tenant: tenantOf(hc.requestHeader), selector: { profileType: '', matchers: [] }, ...rangeFrom(req.start, req.end) });
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

    labelNames: (req, hc) =>
      timed('LabelNames', async () => {
        const tenant = tenantOf(hc.requestHeader);
        const names = new Set<string>();
        for (const q of await seriesQueriesFor(ctx.store, tenant, req.matchers, rangeFrom(req.start, req.end))) {
          for (const n of await ctx.store.labelNames(q)) names.add(n);
        }
        return { names: [...names].sort() };
      }),

    labelValues: (req, hc) =>
      timed('LabelValues', async () => {
        const tenant = tenantOf(hc.requestHeader);
        if (req.name === '') throw new InputError('label name is required');
        const values = new Set<string>();
        for (const q of await seriesQueriesFor(ctx.store, tenant, req.matchers, rangeFrom(req.start, req.end))) {
          // The private type labels are not stored as labels; their values come from the type itself.
          if (req.name === PROFILE_TYPE_LABEL) values.add(q.selector.profileType);
          else if (req.name === '__name__') values.add(q.selector.profileType.split(':')[0]!);
          else for (const v of await ctx.store.labelValues(q, req.name)) values.add(v);
        }
        return { names: [...values].sort() };
      }),

    series: (req, hc) =>
      timed('Series', async () => {
        const tenant = tenantOf(hc.requestHeader);
        const wanted = req.labelNames.length > 0 ? new Set(req.labelNames) : undefined;
        const seen = new Set<string>();
        const labelsSet: { labels: { name: string; value: string }[] }[] = [];
        for (const q of await seriesQueriesFor(ctx.store, tenant, req.matchers, rangeFrom(req.start, req.end))) {
          for (const s of await ctx.store.series(q)) {
            // Pyroscope adds the type as private labels; Grafana builds its type picker from them.
            const all = [
              ...pairs(s.labels),
              { name: '__name__', value: s.profileType.name },
              { name: PROFILE_TYPE_LABEL, value: profileTypeId(s.profileType) },
            ];
            const labels = all.filter((l) => !wanted || wanted.has(l.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
            const key = JSON.stringify(labels);
            if (seen.has(key)) continue;
            seen.add(key);
            labelsSet.push({ labels });
          }
        }
        return { labelsSet };
      }),

    selectMergeStacktraces: (req, hc) =>
      timed('SelectMergeStacktraces', async () => {
        const q = selection(tenantOf(hc.requestHeader), req, 'query');
        const callSite = req.stackTraceSelector?.callSite.map((l) => l.name) ?? [];
        const maxNodes = maxNodesOf(req.maxNodes);
        const tree =
          callSite.length === 0
            ? await ctx.query.flamegraph(q, { maxNodes })
            : buildTree(withCallSite(await ctx.query.stacks(q), callSite), maxNodes ?? DEFAULT_MAX_NODES);
        if (req.format === ProfileFormat.TREE) return { tree: toPyroscopeTree(tree) };
        return { flamegraph: flameGraphMessage(toFlameGraph(tree)) };
      }),

    selectMergeProfile: (req, hc) =>
      timed('SelectMergeProfile', async () => {
        const q = seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end));
        const profile = await ctx.query.mergeProfile(q);
        return fromBinary(ProfileSchema, encodePprof(profile));
      }),

    selectSeries: (req, hc) =>
      timed('SelectSeries', async () => {
        const q = seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end));
        if ((req.stackTraceSelector?.callSite.length ?? 0) > 0) {
          // Totals per bucket come from the store, which does not filter by stack; refuse rather than answer wrong.
          throw new ConnectError('SelectSeries with a stack_trace_selector is not supported by Kiln', Code.Unimplemented);
        }
        if (!(req.step > 0) || !Number.isFinite(req.step)) throw new InputError('step must be a positive number of seconds');
        const stepMs = Math.max(1, Math.round(req.step * 1000));
        const aggregation = req.aggregation === TimeSeriesAggregationType.AVERAGE ? 'avg' : 'sum';
        const limit = req.limit !== undefined && req.limit > 0n ? Number(req.limit) : 0;
        const series = await ctx.query.series(q, stepMs, req.groupBy, aggregation, limit);
        return {
          series: series.map((s) => ({
            labels: pairs(s.labels),
            points: s.points.map((p) => ({ value: p.value, timestamp: int64(p.timeMs) })),
          })),
        };
      }),

    diff: (req, hc) =>
      timed('Diff', async () => {
        const tenant = tenantOf(hc.requestHeader);
        const left = selection(tenant, req.left, 'left');
        const right = selection(tenant, req.right, 'right');
        const { tree } = await ctx.query.diff(left, right, { maxNodes: maxNodesOf(req.left?.maxNodes ?? req.right?.maxNodes) });
        const fg = toFlameGraphDiff(tree);
        return { flamegraph: { ...flameGraphMessage(fg), leftTicks: int64(fg.leftTicks), rightTicks: int64(fg.rightTicks) } };
      }),

    getProfileStats: (_req, hc) =>
      timed('GetProfileStats', async () => {
        const types = await ctx.store.profileTypes({ tenant: tenantOf(hc.requestHeader), selector: { profileType: '', matchers: [] }, from: 0, to: Date.now() + 86_400_000 });
        return { dataIngested: types.length > 0, oldestProfileTime: 0n, newestProfileTime: 0n };
      }),
  });
}
