import type { FastifyInstance } from 'fastify';
import { InputError } from '../model/errors.js';
import type { CompareSide } from '../insight/compare.js';
import { compareStacks, DEFAULT_ALPHA, DEFAULT_LIMIT } from '../insight/compare.js';
import { parseGate } from '../insight/compare-gates.js';
import { parseCompareFormat, renderCompare } from '../insight/compare-render.js';
import { FALLBACK_BYTES_PERIOD, heapPartner, heapSampleCounts, samplePeriod } from '../insight/compare-samples.js';
import { profileTypeId } from '../model/profile-type.js';
import type { WeightedStack } from '../query/stacks.js';
import type { SeriesQuery } from '../store/store.js';
import type { ServerContext } from './context.js';
import { filterFrom, httpRead, intParam, param, selectionFrom } from './http-query.js';
import type { QueryParams } from './http-query.js';

/**
 * `GET /api/v1/compare`: the regression gate (src/insight/compare.ts) over two selections, each merged
 * in full by the query layer. Parameters as /api/v1/diff (`base_query`, `base_from`, `base_until`,
 * `head_…`, focus/hide filters) plus `fail_on` (repeatable, one gate each), `alpha`, `limit`, `period`
 * and `format` (json, text, markdown, junit). A broken gate is an answer, not an error: 200 with
 * `passed: false`. Documented in docs/CI.md.
 */
export function registerCompareApi(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/compare', async (req, reply) =>
    httpRead(ctx, 'api.compare', reply, async (signal) => {
      const params = req.query as QueryParams;
      const base = selectionFrom(req, signal, 'base_');
      const head = selectionFrom(req, signal, 'head_');
      if (base.q.selector.profileType !== head.q.selector.profileType) {
        throw new InputError(`cannot compare different profile types: base is ${base.q.selector.profileType}, head is ${head.q.selector.profileType}`);
      }
      // Every value, not comma-split: a gate's regex may hold a comma.
      const raw = params['fail_on'];
      const gates = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((g) => g.trim() !== '').map(parseGate);
      const alpha = numberParam(params, 'alpha') ?? DEFAULT_ALPHA;
      const period = numberParam(params, 'period');
      const format = parseCompareFormat(param(params, 'format') ?? 'json');
      const filter = filterFrom(params);
      const [b, h] = await Promise.all([ctx.query.stacks(base.q, filter), ctx.query.stacks(head.q, filter)]);
      const side = async (q: SeriesQuery, stacks: WeightedStack[]): Promise<CompareSide> => {
        if (period !== undefined) return { stacks, period };
        const estimated = samplePeriod(head.type, stacks);
        // Go heap pairs: per-stack sample counts from the other half, read with the same selection.
        const partner = heapPartner(head.type);
        if (!partner) return { stacks, period: estimated };
        const other = await ctx.query.stacks({ ...q, selector: { ...q.selector, profileType: profileTypeId(partner) } }, filter);
        return other.length > 0 ? { stacks, period: estimated, counts: heapSampleCounts(head.type, stacks, other, FALLBACK_BYTES_PERIOD, estimated), countsFrom: 'merged stacks' } : { stacks, period: estimated };
      };
      const report = compareStacks(head.type, await side(base.q, b), await side(head.q, h), { alpha, gates, limit: intParam(params, 'limit', DEFAULT_LIMIT, 100_000) });
      if (format === 'json') return report;
      const type = format === 'junit' ? 'application/xml' : format === 'markdown' ? 'text/markdown' : 'text/plain';
      return reply.type(`${type}; charset=utf-8`).send(renderCompare(report, format));
    }),
  );
}

function numberParam(params: QueryParams, name: string): number | undefined {
  const raw = param(params, name);
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${name} must be a positive number, got "${raw.slice(0, 40)}"`);
  return n;
}
