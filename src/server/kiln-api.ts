import type { FastifyInstance, FastifyReply } from 'fastify';
import { toFlameGraph, toFlameGraphDiff } from '../formats/flamebearer.js';
import { encodePprofGzip } from '../formats/pprof.js';
import { topWithCost } from '../insight/cost-top.js';
import { InputError } from '../model/errors.js';
import { profileTypeId } from '../model/profile-type.js';
import type { WeightedStack } from '../query/stacks.js';
import { parseTopSort } from '../query/top.js';
import type { ServerContext } from './context.js';
import { boolParam, filterFrom, httpRead, intParam, listParam, maxNodesParam, param, selectionFrom, stepMsFrom } from './http-query.js';
import type { QueryParams } from './http-query.js';

/**
 * Kiln's own JSON API for what querier.v1 lacks (top tables, folded/pprof export, filters, diff
 * tables, sandwich); the CLI and the UI use it. Documented in docs/API.md.
 */
export function registerKilnApi(app: FastifyInstance, ctx: ServerContext): void {
  const maxNodesOf = (params: QueryParams) => maxNodesParam(params, ctx.limits.maxNodes, 'max_nodes');
  const read = <T>(endpoint: string, reply: FastifyReply, run: (signal: AbortSignal) => Promise<T>) => httpRead(ctx, `api.${endpoint}`, reply, run);

  app.get('/api/v1/top', async (req, reply) =>
    read('top', reply, async (signal) => {
      const params = req.query as QueryParams;
      const { q, type } = selectionFrom(req, signal);
      const sortText = param(params, 'sort');
      // With `cost:` configured, each row also carries what it cost over the range (insight/cost-top.ts).
      const table = await topWithCost(ctx.query, q, {
        ...filterFrom(params),
        sort: sortText ? parseTopSort(sortText) : 'self',
        limit: intParam(params, 'limit', 100, 100_000),
        filter: param(params, 'filter'),
      }, ctx.config?.().cost);
      return { profileType: profileTypeId(type), unit: type.sampleUnit, ...table };
    }),
  );

  app.get('/api/v1/flamegraph', async (req, reply) =>
    read('flamegraph', reply, async (signal) => {
      const params = req.query as QueryParams;
      const { q, type } = selectionFrom(req, signal);
      const format = param(params, 'format') ?? 'json';
      if (format === 'pprof') {
        const profile = await ctx.query.mergeProfile(q, filterFrom(params));
        return reply
          .type('application/octet-stream')
          .header('content-disposition', 'attachment; filename="profile.pb.gz"')
          .send(Buffer.from(encodePprofGzip(profile)));
      }
      if (format === 'folded') return reply.type('text/plain; charset=utf-8').send(toFoldedText(await ctx.query.stacks(q, filterFrom(params))));
      if (format !== 'json') throw new InputError(`unknown format "${format.slice(0, 40)}": use json, folded or pprof`);
      const tree = await ctx.query.flamegraph(q, { ...filterFrom(params), maxNodes: maxNodesOf(params) });
      return { profileType: profileTypeId(type), unit: type.sampleUnit, flamegraph: toFlameGraph(tree) };
    }),
  );

  app.get('/api/v1/diff', async (req, reply) =>
    read('diff', reply, async (signal) => {
      const params = req.query as QueryParams;
      const base = selectionFrom(req, signal, 'base_');
      const head = selectionFrom(req, signal, 'head_');
      const normalize = boolParam(params, 'normalize');
      const sortText = param(params, 'sort') ?? 'self';
      if (sortText !== 'self' && sortText !== 'total') throw new InputError(`unknown sort "${sortText.slice(0, 40)}": use self or total`);
      const sort = sortText;
      const { tree, table } = await ctx.query.diff(base.q, head.q, {
        ...filterFrom(params),
        normalize,
        maxNodes: maxNodesOf(params),
        table: { sort, limit: intParam(params, 'limit', 100, 100_000), filter: param(params, 'filter') },
      });
      return { profileType: profileTypeId(head.type), unit: head.type.sampleUnit, flamegraph: toFlameGraphDiff(tree), table };
    }),
  );

  app.get('/api/v1/series', async (req, reply) =>
    read('series', reply, async (signal) => {
      const params = req.query as QueryParams;
      const { q, type } = selectionFrom(req, signal);
      // Default: about 1500 points, in whole 10 s (the agent's push interval) so buckets hold equal pushes.
      const stepMs = stepMsFrom(params, Math.max(10_000, Math.ceil((q.to - q.from) / 1500 / 10_000) * 10_000));
      const aggregation = param(params, 'aggregation') ?? 'sum';
      if (aggregation !== 'sum' && aggregation !== 'avg') throw new InputError(`aggregation must be sum or avg, got "${aggregation.slice(0, 40)}"`);
      const series = await ctx.query.series(q, stepMs, listParam(params, 'group_by'), aggregation, intParam(params, 'limit', 0, 10_000));
      return { profileType: profileTypeId(type), unit: type.sampleUnit, stepMs, series };
    }),
  );

  app.get('/api/v1/sandwich', async (req, reply) =>
    read('sandwich', reply, async (signal) => {
      const params = req.query as QueryParams;
      const fn = param(params, 'function');
      if (!fn) throw new InputError('missing "function" parameter (the function to centre the sandwich on)');
      const { q, type } = selectionFrom(req, signal);
      const s = await ctx.query.sandwich(q, fn, { ...filterFrom(params), maxNodes: maxNodesOf(params) });
      return { profileType: profileTypeId(type), unit: type.sampleUnit, function: s.function, callers: toFlameGraph(s.callers), callees: toFlameGraph(s.callees) };
    }),
  );
}

/** Folded stacks, one `a;b;c value` line per distinct stack, sorted (stable output for diffs and tests). */
function toFoldedText(stacks: readonly WeightedStack[]): string {
  const merged = new Map<string, number>();
  for (const s of stacks) {
    const key = s.frames.map((f) => f.name).join(';');
    merged.set(key, (merged.get(key) ?? 0) + s.value);
  }
  const lines = [...merged].filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`);
  lines.sort();
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
