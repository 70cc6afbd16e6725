import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Matcher } from '../model/matcher.js';
import { CPU_TYPE, profileTypeId } from '../model/profile-type.js';
import { serviceOverview } from '../insight/overview.js';
import { TEAM_LABEL, teamMatcher } from '../insight/teams.js';
import { parseSelector } from '../query/selector.js';
import { parseRange } from '../query/time.js';
import type { TimeRange } from '../store/store.js';
import type { ServerContext } from './context.js';
import { httpRead, intParam, param } from './http-query.js';
import type { QueryParams } from './http-query.js';
import { tenantOf } from './tenant.js';

/** What the overview, anomaly and report routes select: a type, optional matchers, optionally a team. */
export interface Scope {
  readonly tenant: string;
  readonly profileType: string;
  readonly matchers: readonly Matcher[];
  readonly team: string | undefined;
  readonly range: TimeRange;
}

/**
 * `profile_type` (default CPU), `query` (`{…}` matchers, optional), `team` (ANDed as `team="…"`, which
 * the query layer expands when the config defines the team), `from`/`until` (default `dfltFrom`..now).
 */
export function scopeFrom(req: FastifyRequest, dfltFrom = 'now-1h'): Scope {
  const params = req.query as QueryParams;
  const profileType = param(params, 'profile_type') || profileTypeId(CPU_TYPE);
  const selector = parseSelector(param(params, 'query') || '{}', profileType);
  const team = param(params, 'team') || undefined;
  return {
    tenant: tenantOf(req.headers),
    profileType: selector.profileType,
    matchers: team ? [...selector.matchers, teamMatcher(team)] : selector.matchers,
    team,
    range: parseRange(param(params, 'from') ?? dfltFrom, param(params, 'until') ?? 'now'),
  };
}

/**
 * `GET /api/v1/services`: the service overview (src/insight/overview.ts) — every service of the
 * selection with value, cores, cost, change against the previous period, sparkline and top three
 * functions — and the teams a filter can pick from (configured ones and `team` label values).
 */
export function registerOverviewApi(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/services', async (req, reply) =>
    httpRead(ctx, 'api.services', reply, async (signal) => {
      const scope = scopeFrom(req);
      const limit = intParam(req.query as QueryParams, 'limit', 100, 10_000);
      const config = ctx.config?.();
      const [overview, labelled] = await Promise.all([
        serviceOverview(ctx.query, { ...scope, limit, signal }, config?.cost, config?.teams),
        ctx.query.labelValues({ tenant: scope.tenant, selectors: [], ...scope.range, signal }, TEAM_LABEL),
      ]);
      const teams = [...new Set([...(config?.teams?.keys() ?? []), ...labelled])].sort();
      return { ...overview, team: scope.team ?? '', teams };
    }),
  );
}
