import { create, toBinary, toJsonString } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGzip } from '../formats/compression.js';
import { OTLP_HTTP_PATH, OTLP_JSON_TYPE, OTLP_PROTOBUF_TYPE } from '../formats/otlp.js';
// Registers format=otlp for POST /ingest (and so `kiln ingest FILE --format otlp`) wherever the server runs.
import '../formats/otlp-format.js';
import {
  ExportProfilesServiceResponseSchema,
  ProfilesService,
  type ExportProfilesServiceRequest,
  type ExportProfilesServiceResponse,
} from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { InputError } from '../model/errors.js';
import { withIngestSlot } from './backpressure.js';
import { mapRequestErrors } from './connect-request-errors.js';
import type { ServerContext } from './context.js';
import { decodeOffLoop } from './decode-pool.js';
import type { Decoded } from './decode-tasks.js';
import { decodeOtlpRequest } from './decode-tasks.js';
import { limitsFor, OTLP_GRPC_MAX_MESSAGE_BYTES } from './limits.js';
import type { IngestProtocol } from './metrics.js';
import { tenantOf } from './tenant.js';
import { writeProfiles } from './write.js';

/** OTLP/HTTP path for profiles (the signal's default URL path while profiles are in development). */

/** Rejection reasons quoted in a partial success message; the count says how many there were. */
const MAX_QUOTED_REJECTIONS = 3;

/**
 * The OTLP export, shared by HTTP and gRPC, once the request is decoded (decode-tasks.ts: each OTLP
 * profile decoded and validated on its own). The good ones are written (through the same validated
 * write path as every ingest route), the bad ones are counted in `partial_success` with the first
 * reasons — OTLP's answer for "accepted in part", which senders do not retry. When nothing in a
 * non-empty request is acceptable the whole request is an InputError (HTTP 400 / gRPC
 * INVALID_ARGUMENT) and nothing is written.
 */
export function exportProfiles(ctx: ServerContext, tenant: string, protocol: IngestProtocol, decoded: Decoded): Promise<ExportProfilesServiceResponse> {
  const { profiles: accepted, rejected } = decoded;
  if (rejected.length > 0 && accepted.length === 0) {
    return Promise.reject(new InputError(`all ${rejected.length} OTLP profiles were rejected; ${quote(rejected)}`));
  }
  // Not awaited here: the decoded profiles must not stay alive until the commit (see writeProfiles).
  return writeProfiles(ctx, tenant, protocol, accepted).then(() => {
    if (rejected.length === 0) return create(ExportProfilesServiceResponseSchema);
    return create(ExportProfilesServiceResponseSchema, {
      partialSuccess: { rejectedProfiles: BigInt(rejected.length), errorMessage: `${rejected.length} OTLP profiles rejected; ${quote(rejected)}` },
    });
  });
}

function quote(reasons: readonly string[]): string {
  const more = reasons.length > MAX_QUOTED_REJECTIONS ? ` (and ${reasons.length - MAX_QUOTED_REJECTIONS} more)` : '';
  return reasons.slice(0, MAX_QUOTED_REJECTIONS).join('; ') + more;
}

type BodyEncoding = 'protobuf' | 'json';

/** OTLP/HTTP's two content types (`application/protobuf` too, as the OTel Collector accepts it). */
function bodyEncodingOf(contentType: string | undefined): BodyEncoding | undefined {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === OTLP_PROTOBUF_TYPE || mime === 'application/protobuf') return 'protobuf';
  if (mime === OTLP_JSON_TYPE) return 'json';
  return undefined;
}

/** Whether the body is gzipped as Content-Encoding says (it is inflated, capped, with the decoding). */
function isGzipped(req: FastifyRequest, body: Uint8Array): boolean {
  const encoding = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return false;
  if (encoding !== 'gzip') throw new InputError(`Content-Encoding "${encoding.slice(0, 40)}" is not supported: send gzip or nothing`, 415);
  if (!isGzip(body)) throw new InputError('Content-Encoding is gzip but the body is not gzip data');
  return true;
}

/** gRPC status codes an OTLP/HTTP error body carries (google.rpc.Status), by HTTP status. */
const GRPC_CODE: Record<number, number> = { 400: 3, 404: 5, 413: 8, 415: 3, 422: 3, 429: 8 };

/** A google.rpc.Status (code = 1, message = 2) in the request's encoding, as OTLP/HTTP errors are. */
function statusBody(encoding: BodyEncoding, httpStatus: number, message: string): Uint8Array | string {
  const code = GRPC_CODE[httpStatus] ?? 2;
  if (encoding === 'json') return JSON.stringify({ code, message });
  return new BinaryWriter().tag(1, WireType.Varint).int32(code).tag(2, WireType.LengthDelimited).string(message).finish();
}

const CONTENT_TYPE: Record<BodyEncoding, string> = { protobuf: OTLP_PROTOBUF_TYPE, json: OTLP_JSON_TYPE };

/**
 * `POST /v1development/profiles` — OTLP/HTTP: an ExportProfilesServiceRequest as protobuf or JSON,
 * optionally gzipped (decompressed size capped by the server limits). 200 with an
 * ExportProfilesServiceResponse in the same encoding (partial_success set when some profiles were
 * refused); 4xx with a google.rpc.Status body for bad requests; 415 for other content types.
 */
export function registerOtlp(app: FastifyInstance, ctx: ServerContext): void {
  // Bodies are read raw whatever their type: the handler decides (and answers 415 itself).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.limits.maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post(OTLP_HTTP_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    const received = (req.body as Buffer | undefined)?.length ?? 0;
    ctx.metrics.ingestBytes.inc({ protocol: 'otlp_http' }, received);
    const encoding = bodyEncodingOf(req.headers['content-type']);
    try {
      if (!encoding) {
        throw new InputError(`Content-Type "${String(req.headers['content-type'] ?? '').slice(0, 60)}" is not OTLP: send application/x-protobuf or application/json`, 415);
      }
      const tenant = tenantOf(req.headers);
      const body: Uint8Array = (req.body as Buffer | undefined) ?? new Uint8Array(0);
      const gzipped = isGzipped(req, body);
      const res = await withIngestSlot(ctx, tenant, received, async () =>
        exportProfiles(ctx, tenant, 'otlp_http', await decodeOffLoop(ctx, { kind: 'otlp', encoding, body, gzipped, limits: limitsFor(ctx, tenant) })),
      );
      const out = encoding === 'json' ? toJsonString(ExportProfilesServiceResponseSchema, res) : toBinary(ExportProfilesServiceResponseSchema, res);
      return reply.status(200).type(CONTENT_TYPE[encoding]).send(encoding === 'json' ? out : Buffer.from(out as Uint8Array));
    } catch (e) {
      ctx.metrics.ingestErrors.inc({ protocol: 'otlp_http', reason: e instanceof InputError ? 'input' : 'internal' });
      if (!(e instanceof InputError)) throw e;
      const enc = encoding ?? 'json';
      const body = statusBody(enc, e.status, e.message);
      return reply.status(e.status).type(CONTENT_TYPE[enc]).send(typeof body === 'string' ? body : Buffer.from(body));
    }
  });
}

/**
 * gRPC `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export` (also over
 * Connect and gRPC-web). Request size and compression are handled by the Connect plugin's limits;
 * InputErrors become INVALID_ARGUMENT & co. through the server's interceptor.
 */
export function otlpConnectRoutes(router: ConnectRouter, ctx: ServerContext): void {
  router.service(ProfilesService, {
    async export(req: ExportProfilesServiceRequest, hc: HandlerContext) {
      try {
        // Connect has parsed the message on the event loop already; what is left is decoded here.
        const tenant = tenantOf(hc.requestHeader);
        return await withIngestSlot(ctx, tenant, 0, () => exportProfiles(ctx, tenant, 'otlp_grpc', decodeOtlpRequest(req, limitsFor(ctx, tenant))));
      } catch (e) {
        ctx.metrics.ingestErrors.inc({ protocol: 'otlp_grpc', reason: e instanceof InputError ? 'input' : 'internal' });
        throw e;
      }
    },
  }, { readMaxBytes: OTLP_GRPC_MAX_MESSAGE_BYTES });
  mapRequestErrors(router, ProfilesService);
}
