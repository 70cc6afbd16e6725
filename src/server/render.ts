import type { FastifyInstance } from 'fastify';
import { timelineStepSec, toDiffFlamebearerProfile, toFlamebearerProfile, toTimeline } from '../formats/flamebearer.js';
import { parseRange } from '../query/time.js';
import type { ServerContext } from './context.js';
import { filterFrom, maxNodesParam, param, selectionFrom } from './http-query.js';
import type { QueryParams } from './http-query.js';
import { seriesQueriesFor } from './selection.js';
import { tenantOf } from './tenant.js';

/**
 * Pyroscope's legacy render API, still used by older Grafana plugins, the Pyroscope OG UI and scripts:
 * `/pyroscope/render` (flamebearer JSON + timeline), `/pyroscope/render-diff` (`leftQuery`,
 * `leftFrom`, `leftUntil`, `rightQuery`, …), `/pyroscope/labels` and `/pyroscope/label-values`.
 * Also mounted without the `/pyroscope` prefix, where Pyroscope OG served them.
 */
export function registerRender(app: FastifyInstance, ctx: ServerContext): void {
  const maxNodesOf = (params: QueryParams) => maxNodesParam(params, ctx.limits.maxNodes, 'max-nodes', 'maxNodes');

  for (const prefix of ['/pyroscope', '']) {
    app.get(`${prefix}/render`, async (req) =>
      ctx.metrics.timeQuery('render', async () => {
        const params = req.query as QueryParams;
        const { q, type } = selectionFrom(req);
        const stepSec = timelineStepSec(q.from, q.to);
        const [tree, points] = await Promise.all([
          ctx.query.flamegraph(q, { ...filterFrom(params), maxNodes: maxNodesOf(params) }),
          ctx.query.series(q, stepSec * 1000),
        ]);
        const timeline = toTimeline(points[0]?.points ?? [], q.from, q.to, stepSec);
        return toFlamebearerProfile(tree, type, { timeline });
      }),
    );

    app.get(`${prefix}/render-diff`, async (req) =>
      ctx.metrics.timeQuery('render-diff', async () => {
        const params = req.query as QueryParams;
        const left = selectionFrom(req, 'left');
        const right = selectionFrom(req, 'right');
        const { tree } = await ctx.query.diff(left.q, right.q, { maxNodes: maxNodesOf(params) });
        return toDiffFlamebearerProfile(tree, right.type);
      }),
    );

    app.get(`${prefix}/labels`, async (req) => {
      const params = req.query as QueryParams;
      const { from, to } = selectionRange(params);
      const names = new Set<string>();
      for (const q of await seriesQueriesFor(ctx.store, tenantOf(req.headers), listQuery(params), { from, to })) {
        for (const n of await ctx.store.labelNames(q)) names.add(n);
      }
      return [...names].sort();
    });

    app.get(`${prefix}/label-values`, async (req) => {
      const params = req.query as QueryParams;
      const label = param(params, 'label', 'name');
      if (!label) return [];
      const { from, to } = selectionRange(params);
      const values = new Set<string>();
      for (const q of await seriesQueriesFor(ctx.store, tenantOf(req.headers), listQuery(params), { from, to })) {
        for (const v of await ctx.store.labelValues(q, label)) values.add(v);
      }
      return [...values].sort();
    });
  }
}

function listQuery(params: QueryParams): string[] {
  const q = param(params, 'query');
  return q ? [q] : [];
}

function selectionRange(params: QueryParams): { from: number; to: number } {
  // Label listings default to all time: they are cheap, and legacy clients often send no range.
  return parseRange(param(params, 'from') ?? '0', param(params, 'until') ?? 'now');
}
