import type { FastifyInstance } from 'fastify';
import { InputError } from '../model/errors.js';
import { ANOMALY_DEFAULTS, findAnomalies } from '../insight/anomalies.js';
import { parseDuration, parseTime } from '../query/time.js';
import type { ServerContext } from './context.js';
import { httpRead, intParam, param } from './http-query.js';
import type { QueryParams } from './http-query.js';
import { scopeFrom } from './overview-api.js';

/** A window past a day would overlap the previous day's baseline window. */
const MAX_WINDOW_MS = 86_400_000;

/**
 * `GET /api/v1/anomalies`: functions whose share of their service moved far from the same window on
 * the past days (src/insight/anomalies.ts). Parameters: the overview's scope (`profile_type`, `query`,
 * `team`), `until` (end of the window, default now), `window` (1h), `days` (7), `threshold` (3.5),
 * `min_change` (0.01 = one percentage point).
 */
export function registerAnomaliesApi(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/anomalies', async (req, reply) =>
    httpRead(ctx, 'api.anomalies', reply, async (signal) => {
      const params = req.query as QueryParams;
      const scope = scopeFrom(req);
      const windowMs = parseDuration(param(params, 'window') ?? '1h');
      if (!(windowMs >= 60_000 && windowMs <= MAX_WINDOW_MS)) throw new InputError(`window must be from 1m to 24h, got "${param(params, 'window')}"`);
      return findAnomalies(ctx.query, {
        tenant: scope.tenant,
        profileType: scope.profileType,
        matchers: scope.matchers,
        at: parseTime(param(params, 'until') ?? 'now'),
        windowMs,
        days: intParam(params, 'days', ANOMALY_DEFAULTS.days, 28) || ANOMALY_DEFAULTS.days,
        threshold: numberParam(params, 'threshold', ANOMALY_DEFAULTS.threshold),
        minChange: numberParam(params, 'min_change', ANOMALY_DEFAULTS.minChange),
        signal,
      });
    }),
  );
}

function numberParam(params: QueryParams, name: string, dflt: number): number {
  const raw = param(params, name);
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new InputError(`${name} must be a number ≥ 0, got "${raw.slice(0, 40)}"`);
  return n;
}
