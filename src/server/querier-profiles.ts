import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import type { HeatmapExemplar } from '../query/heatmap.js';
import { HeatmapQueryType } from '../gen/querier/v1/querier_pb.js';
import type { QuerierService } from '../gen/querier/v1/querier_pb.js';
import { ExemplarType } from '../gen/types/v1/types_pb.js';
import type { ServerContext } from './context.js';
import { rangeFrom, seriesQuery } from './selection.js';
import { tenantOf } from './tenant.js';

type Timed = <T>(endpoint: string, hc: HandlerContext, run: (signal: AbortSignal) => Promise<T>) => Promise<T>;

const int64 = (n: number): bigint => BigInt(Math.round(n));
const pairs = (labels: Labels) => labels.map((l) => ({ name: l.name, value: l.value }));

/** A query-layer exemplar as types.v1.Exemplar. */
export const exemplarMessage = (e: HeatmapExemplar) => ({
  timestamp: int64(e.timeMs),
  profileId: e.profileId,
  spanId: e.spanId ?? '',
  value: int64(e.value),
  labels: pairs(e.labels),
  traceId: '',
});

/**
 * querier.v1 SelectHeatmap and AnalyzeQuery: the methods that read stored profiles one by one (or just
 * count them) instead of merging their samples. Parsing and encoding only; src/query does the rest.
 */
export function profileReadHandlers(ctx: ServerContext, timed: Timed): Pick<ServiceImpl<typeof QuerierService>, 'selectHeatmap' | 'analyzeQuery'> {
  return {
    selectHeatmap: (req, hc) =>
      timed('SelectHeatmap', hc, async (signal) => {
        // Pyroscope's own checks, with its wording: a step under 1 ms, a negative limit, an empty range.
        if (!(req.step >= 0.001) || !Number.isFinite(req.step)) throw new InputError(`step must be >= 1ms, got ${req.step} s`);
        if (req.limit !== undefined && req.limit < 0n) throw new InputError(`limit must be non-negative, got ${req.limit}`);
        if (req.start >= req.end) throw new InputError(`start time must be before end time, got start=${req.start} end=${req.end}`);
        const spans = req.queryType === HeatmapQueryType.SPAN;
        // Pyroscope: the exemplar type must match the query type, or be NONE.
        const wanted = spans ? ExemplarType.SPAN : ExemplarType.INDIVIDUAL;
        if (req.exemplarType !== wanted && req.exemplarType !== ExemplarType.NONE && req.exemplarType !== ExemplarType.UNSPECIFIED) {
          throw new InputError(
            `exemplar_type EXEMPLAR_TYPE_${ExemplarType[req.exemplarType]} does not match query_type HEATMAP_QUERY_TYPE_${HeatmapQueryType[req.queryType]}: use EXEMPLAR_TYPE_${ExemplarType[wanted]} or EXEMPLAR_TYPE_NONE`,
          );
        }
        const q = seriesQuery(tenantOf(hc.requestHeader), req.profileTypeID, req.labelSelector, rangeFrom(req.start, req.end), signal);
        const series = await ctx.query.heatmap(q, {
          points: spans ? 'spans' : 'profiles',
          stepMs: Math.max(1, Math.round(req.step * 1000)),
          groupBy: req.groupBy,
          exemplars: req.exemplarType === wanted,
          limit: req.limit !== undefined ? Number(req.limit) : 0,
        });
        return {
          series: series.map((s) => ({
            labels: pairs(s.labels),
            slots: s.slots.map((slot) => ({
              timestamp: int64(slot.timeMs),
              yMin: [...slot.yMin],
              counts: [...slot.counts],
              exemplars: slot.exemplars.map(exemplarMessage),
            })),
          })),
        };
      }),

    analyzeQuery: (req, hc) =>
      timed('AnalyzeQuery', hc, async (signal) => {
        const range = rangeFrom(req.start, req.end);
        const f = await ctx.query.footprint({ tenant: tenantOf(hc.requestHeader), selectors: [req.query], ...range, signal });
        // One component reads everything (the store); Kiln has no blocks or replicas to deduplicate.
        // Bytes are the sample rows' share of the store's size on disk; symbols and the series index are not counted.
        return {
          queryScopes: [
            {
              componentType: 'store',
              componentCount: 1n,
              blockCount: 0n,
              seriesCount: BigInt(f.series),
              profileCount: BigInt(f.profiles),
              sampleCount: BigInt(f.samples),
              indexBytes: 0n,
              profileBytes: BigInt(f.sampleBytes),
              symbolBytes: 0n,
            },
          ],
          queryImpact: { totalBytesInTimeRange: BigInt(f.sampleBytes), totalQueriedSeries: BigInt(f.series), deduplicationNeeded: false },
        };
      }),
  };
}
