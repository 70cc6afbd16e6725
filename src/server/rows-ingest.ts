import type { FastifyInstance } from 'fastify';
import { KILN_ROWS_PATH, KILN_ROWS_TYPE, ROWS } from '../formats/kiln-rows.js';
import { InputError } from '../model/errors.js';
import { storedStacksOf } from '../store/stored-stacks.js';
import { withIngestSlot } from './backpressure.js';
import type { ServerContext } from './context.js';
import { decodeOffLoop } from './decode-pool.js';
import { decodeKilnRows, hexId } from './kiln-rows-decode.js';
import { limitsFor } from './limits.js';
import { tenantOf } from './tenant.js';
import { writeProfiles } from './write.js';

/** Steady pushes up to this size are read on the event loop (≈ 0.25 µs a row: 16 KiB rows ≈ 0.3 ms). */
const INLINE_MAX_BYTES = 256 * 1024;

/**
 * Whether to read the body on the event loop: uncompressed, small, and no symbols (the agent writes
 * symbols first, so a body whose first field is a series carries none and costs its rows only).
 */
function decodesInline(body: Uint8Array, gzipped: boolean): boolean {
  return !gzipped && body.length <= INLINE_MAX_BYTES && (body.length === 0 || body[0] === ROWS.series * 8 + 2);
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
        const decoded = decodesInline(body, gzipped)
          ? await decodeKilnRows(body, false, limits, storedStacksOf(ctx.store)).then(({ profiles, missing }) => ({ profiles, missingStacks: missing.map(hexId) }))
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

