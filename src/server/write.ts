import { EmptyProfileError } from '../formats/empty-profile.js';
import { limitExceeded } from '../formats/decode-limits.js';
import type { Profile } from '../model/profile.js';
import { isEmptyProfile } from '../model/validate.js';
import type { WriteResult } from '../store/store.js';
import type { ServerContext } from './context.js';
import { checkSeriesLimits, limitsFor } from './limits.js';
import type { IngestProtocol } from './metrics.js';

/**
 * The one way a protocol handler stores profiles: check the request's row and series limits first (so
 * a rejected request never touches the store), drop empty ones (accepted as a no-op, as Pyroscope does),
 * write the rest in one call, count them. The store validates every profile itself (model/validate.ts)
 * before it writes any, so that check is not repeated here.
 */
export async function writeProfiles(
  ctx: ServerContext,
  tenant: string,
  protocol: IngestProtocol,
  profiles: readonly Profile[],
): Promise<WriteResult> {
  let rows = 0;
  for (const p of profiles) {
    rows += p.values.length;
    if (rows > ctx.limits.maxRowsPerRequest) throw limitExceeded('max_rows_per_request', `the request has more than ${ctx.limits.maxRowsPerRequest} samples`);
  }
  checkSeriesLimits(profiles, limitsFor(ctx, tenant));
  const kept = profiles.filter((p) => !isEmptyProfile(p));
  if (kept.length === 0) return { profiles: 0, rows: 0 };
  const result = await ctx.store.write(tenant, kept);
  ctx.metrics.ingestProfiles.inc({ protocol }, result.profiles);
  ctx.metrics.ingestRows.inc({ protocol }, result.rows);
  return result;
}

/**
 * Decoders reject a well-formed profile that holds no samples (right for `kiln ingest`, where it is a
 * mistake). SDKs send those for idle periods and Pyroscope answers 200, so ingest endpoints turn that
 * one rejection into "nothing to store". Any other problem stays an error.
 */
export function decodeAllowingEmpty<T>(decode: () => T[]): T[] {
  try {
    return decode();
  } catch (e) {
    if (e instanceof EmptyProfileError) return [];
    throw e;
  }
}
