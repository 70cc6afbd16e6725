import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toDot } from '../formats/dot.js';
import { timelineStepSec, toDiffFlamebearerProfile, toFlamebearerProfile, toTimeline } from '../formats/flamebearer.js';
import type { LabelQuery } from '../query/labels.js';
import { parseRange } from '../query/time.js';
import type { ServerContext } from './context.js';
import { filterFrom, httpRead, maxNodesParam, param, selectionFrom } from './http-query.js';
import type { QueryParams } from './http-query.js';
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
    app.get(`${prefix}/render`, async (req, reply) =>
      httpRead(ctx, 'render', reply, async (signal) => {
        const params = req.query as QueryParams;
        const { q, type } = selectionFrom(req, signal);
        if (param(params, 'format') === 'dot') {
          // Pyroscope's `format=dot`: the call graph as Graphviz text (Profiles Drilldown's LLM panel reads it).
          const graph = await ctx.query.callgraph(q, filterFrom(params));
          void reply.type('text/vnd.graphviz; charset=utf-8');
          return toDot(graph, { title: `Type: ${q.selector.profileType}`, maxNodes: maxNodesOf(params) ?? 100 });
        }
        const stepSec = timelineStepSec(q.from, q.to);
        const [tree, points] = await Promise.all([
          ctx.query.flamegraph(q, { ...filterFrom(params), maxNodes: maxNodesOf(params) }),
          ctx.query.series(q, stepSec * 1000),
        ]);
        const timeline = toTimeline(points[0]?.points ?? [], q.from, q.to, stepSec);
        return toFlamebearerProfile(tree, type, { timeline });
      }),
    );

    app.get(`${prefix}/render-diff`, async (req, reply) =>
      httpRead(ctx, 'render-diff', reply, async (signal) => {
        const params = req.query as QueryParams;
        const left = selectionFrom(req, signal, 'left');
        const right = selectionFrom(req, signal, 'right');
        const { tree } = await ctx.query.diff(left.q, right.q, { maxNodes: maxNodesOf(params) });
        return toDiffFlamebearerProfile(tree, right.type);
      }),
    );

    app.get(`${prefix}/labels`, async (req, reply) =>
      httpRead(ctx, 'labels', reply, (signal) => ctx.query.labelNames(labelQuery(req, signal))),
    );

    app.get(`${prefix}/label-values`, async (req, reply) =>
      httpRead(ctx, 'label-values', reply, async (signal) => {
        const label = param(req.query as QueryParams, 'label', 'name');
        return label ? ctx.query.labelValues(labelQuery(req, signal), label) : [];
      }),
    );
  }
}

/** `query` (a selector; the type may be left out or named only), `from`, `until` of the label routes. */
function labelQuery(req: FastifyRequest, signal: AbortSignal): LabelQuery {
  const params = req.query as QueryParams;
  const q = param(params, 'query');
  // Label listings default to all time: they are cheap, and legacy clients often send no range.
  const range = parseRange(param(params, 'from') ?? '0', param(params, 'until') ?? 'now');
  return { tenant: tenantOf(req.headers), selectors: q ? [q] : [], ...range, signal };
}
