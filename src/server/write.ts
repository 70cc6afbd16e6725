import { limitExceeded } from '../formats/decode-limits.js';
import { InputError } from '../model/errors.js';
import type { Profile } from '../model/profile.js';
import { isEmptyProfile } from '../model/validate.js';
import type { WriteResult } from '../store/store.js';
import { withIngestSlot } from './backpressure.js';
import type { ServerContext } from './context.js';
import { decodeOffLoop } from './decode-pool.js';
import type { PprofSeries } from './decode-tasks.js';
import { checkSeriesLimits, limitsFor } from './limits.js';
import { seriesLimiter } from './limits-series.js';
import type { IngestProtocol } from './metrics.js';

/**
 * The one way a protocol handler stores profiles: check the request's row and series limits first (so
 * a rejected request never touches the store), drop empty ones (accepted as a no-op, as Pyroscope does),
 * write the rest in one call, count them. The store validates every profile itself (model/validate.ts)
 * before it writes any, so that check is not repeated here.
 */
export function writeProfiles(
  ctx: ServerContext,
  tenant: string,
  protocol: IngestProtocol,
  profiles: readonly Profile[],
): Promise<WriteResult> {
  // Not an async function on purpose: V8 keeps an async function's locals alive across its awaits,
  // so `profiles` (a request's decoded dictionary: thousands of strings and small objects) would
  // live until the group commit, be promoted to the old generation and be collected there. Returning
  // the store's promise lets it die as soon as the store has reduced it to rows (store/write-path.ts).
  // Measured (bench/server-ingest.ts 200 8 with --trace-gc-nvp, load 5-24): bytes promoted by
  // scavenges 282-284 MB before, 142-272 MB after.
  let stored: Promise<WriteResult>;
  try {
    let rows = 0;
    for (const p of profiles) {
      rows += p.values.length;
      if (rows > ctx.limits.maxRowsPerRequest) throw limitExceeded('max_rows_per_request', `the request has more than ${ctx.limits.maxRowsPerRequest} samples`);
    }
    const limits = limitsFor(ctx, tenant);
    checkSeriesLimits(profiles, limits);
    const kept = profiles.filter((p) => !isEmptyProfile(p));
    if (kept.length === 0) return Promise.resolve({ profiles: 0, rows: 0 });
    stored = seriesLimiter(ctx.store).admit(tenant, kept, limits.maxSeriesPerTenant, () => ctx.store.write(tenant, kept));
  } catch (e) {
    return Promise.reject(e);
  }
  return counted(ctx, protocol, stored);
}

async function counted(ctx: ServerContext, protocol: IngestProtocol, stored: Promise<WriteResult>): Promise<WriteResult> {
  const result = await stored;
  ctx.metrics.ingestProfiles.inc({ protocol }, result.profiles);
  ctx.metrics.ingestRows.inc({ protocol }, result.rows);
  return result;
}

/**
 * push.v1 and Parca's WriteRaw: pprof profiles by series. The request holds an ingest slot
 * (backpressure.ts) while a worker decodes all of it and until it is written; nothing is written
 * unless every series decoded, so a client retries the request as a unit.
 */
export async function writePprofSeries(ctx: ServerContext, tenant: string, protocol: IngestProtocol, series: PprofSeries[], handOverBodies = false): Promise<WriteResult> {
  let bytes = 0;
  for (const s of series) for (const raw of s.rawProfiles) bytes += raw.length;
  ctx.metrics.ingestBytes.inc({ protocol }, bytes);
  try {
    return await withIngestSlot(ctx, tenant, bytes, async () => {
      const { profiles } = await decodeOffLoop(ctx, { kind: 'pprof-series', series, limits: limitsFor(ctx, tenant), handOverBodies });
      return writeProfiles(ctx, tenant, protocol, profiles);
    });
  } catch (e) {
    ctx.metrics.ingestErrors.inc({ protocol, reason: e instanceof InputError ? 'input' : 'internal' });
    throw e;
  }
}
