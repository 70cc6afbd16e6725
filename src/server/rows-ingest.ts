import type { FastifyInstance } from 'fastify';
import { gunzipBounded } from '../formats/compression.js';
import { KILN_ROWS_PATH, KILN_ROWS_TYPE } from '../formats/kiln-rows.js';
import { InputError } from '../model/errors.js';
import { storedStacksOf } from '../store/stored-stacks.js';
import { withIngestSlot } from './backpressure.js';
import type { ServerContext } from './context.js';
import { decodeOffLoop } from './decode-pool.js';
import { decodeKilnRows, hexId } from './kiln-rows-decode.js';
import { limitsFor, type TenantLimits } from './limits.js';
import { tenantOf } from './tenant.js';
import { writeProfiles } from './write.js';

/**
 * Requests read on the event loop: up to this size as received, and as inflated. A steady push (rows only)
 * costs ≈ 0.25 µs a row to read; an agent's first pushes carry symbols (≈ 16 KiB gzipped on average in
 * bench/server-ingest.ts, 440 KiB inflated at most), but symbols of stacks the store holds are skipped
 * unread (kiln-rows-read.ts), and handing such a request to a decode worker cost more than reading it:
 * the hand-off, the worker's own garbage collection and the dictionary's copy back. Larger requests,
 * and those that inflate past the bound, go to the decode pool.
 */
const INLINE_MAX_BYTES = 256 * 1024;
const INLINE_MAX_INFLATED = 512 * 1024;

/** The body to read on the event loop (inflated), or undefined: the decode pool reads it. */
function inlineBody(body: Uint8Array, gzipped: boolean, limits: TenantLimits): Uint8Array | undefined {
  if (body.length > INLINE_MAX_BYTES) return undefined;
  if (!gzipped) return body;
  try {
    return gunzipBounded(body, Math.min(INLINE_MAX_INFLATED, limits.maxDecompressedBytes));
  } catch (e) {
    // Past the bound (413 here): the pool inflates it against the tenant's real limit; broken gzip is answered now.
    if (e instanceof InputError && e.status === 413 && INLINE_MAX_INFLATED < limits.maxDecompressedBytes) return undefined;
    throw e;
  }
}

/**
 * `POST /kiln/v1/rows` — the Kiln agent's push (formats/kiln-rows.ts): rows by stack id, symbols only for
 * stacks the server has not stored. 200 `{profiles, rows}` once written; 409 `{error, missing_stacks}`
 * (ids as 16 hex digits) when a row names a stack that is neither in the request nor known stored —
 * nothing is written, and the sender repeats the request with those stacks' symbols.
 */
export function registerRowsIngest(app: FastifyInstance, ctx: ServerContext): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.limits.maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post(KILN_ROWS_PATH, async (req, reply) => {
    const body: Uint8Array = (req.body as Buffer | undefined) ?? new Uint8Array(0);
    ctx.metrics.ingestBytes.inc({ protocol: 'kiln_rows' }, body.length);
    try {
      const mime = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (mime !== KILN_ROWS_TYPE) throw new InputError(`Content-Type "${mime.slice(0, 60)}" is not ${KILN_ROWS_TYPE}`, 415);
      const tenant = tenantOf(req.headers);
      const limits = limitsFor(ctx, tenant);
      const encoding = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') throw new InputError(`Content-Encoding "${encoding.slice(0, 40)}" is not supported: send gzip or nothing`, 415);
      const gzipped = encoding === 'gzip';
      const outcome = await withIngestSlot(ctx, tenant, body.length, async () => {
        const inline = inlineBody(body, gzipped, limits);
        const decoded = inline
          ? await decodeKilnRows(inline, false, limits, storedStacksOf(ctx.store)).then(({ profiles, missing }) => ({ profiles, missingStacks: missing.map(hexId) }))
          : await decodeOffLoop(ctx, { kind: 'kiln-rows', body, gzipped, limits });
        if (decoded.missingStacks !== undefined && decoded.missingStacks.length > 0) return { missing: decoded.missingStacks };
        return writeProfiles(ctx, tenant, 'kiln_rows', decoded.profiles);
      });
      if ('missing' in outcome) {
        ctx.metrics.ingestErrors.inc({ protocol: 'kiln_rows', reason: 'missing_stacks' });
        return reply.status(409).send({ error: `${outcome.missing.length} stacks are not stored: send the request again with their symbols`, missing_stacks: outcome.missing });
      }
      return reply.send(outcome);
    } catch (e) {
      ctx.metrics.ingestErrors.inc({ protocol: 'kiln_rows', reason: e instanceof InputError ? 'input' : 'internal' });
      throw e;
    }
  });
}

