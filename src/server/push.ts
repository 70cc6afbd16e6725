import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { PusherService } from '../gen/push/v1/push_pb.js';
import type { PushRequest } from '../gen/push/v1/push_pb.js';
import { mapRequestErrors } from './connect-request-errors.js';
import type { ServerContext } from './context.js';
import { pprofSeries, type PprofSeries } from './decode-tasks.js';
import { tenantOf } from './tenant.js';
import { writePprofSeries } from './write.js';

/**
 * `push.v1.PusherService/Push` — how Grafana Alloy and the Pyroscope Go/Java SDKs send pprof. The
 * whole request is decoded and validated before anything is written, so a bad sample in series 3
 * leaves series 1 and 2 unwritten too (the client retries the request as a unit).
 */
export function pushRoutes(router: ConnectRouter, ctx: ServerContext): void {
  router.service(PusherService, {
    async push(req: PushRequest, hc: HandlerContext) {
      const tenant = tenantOf(hc.requestHeader);
      const series = req.series.map((s) => pprofSeries(s.labels, s.samples));
      await writePprofSeries(ctx, tenant, 'push', series, ownsBody(series, hc.requestHeader));
      return {};
    },
  });
  mapRequestErrors(router, PusherService);
}

/**
 * Whether the raw profiles are views into a buffer that holds this request's body and nothing else, so
 * the decode thread may take it rather than a copy (≈ 90 KB per agent-sized pprof). Connect reads an
 * uncompressed unary body into a buffer of its own, exactly its Content-Length long; the handler reads
 * the profiles no more once they are decoded. Anything else (a compressed body, gRPC envelopes, no
 * length given, profiles in several buffers) is copied as before.
 */
export function ownsBody(series: readonly PprofSeries[], header: Headers): boolean {
  const length = Number(header.get('content-length') ?? NaN);
  if (!Number.isSafeInteger(length) || length <= 0) return false;
  // Compressed by any protocol's header (Connect unary, Connect streaming, gRPC): inflated into another buffer.
  for (const name of ['content-encoding', 'connect-content-encoding', 'grpc-encoding']) {
    const encoding = header.get(name);
    if (encoding !== null && encoding !== 'identity') return false;
  }
  let buffer: ArrayBufferLike | undefined;
  for (const s of series) {
    for (const raw of s.rawProfiles) {
      if (buffer !== undefined && raw.buffer !== buffer) return false;
      buffer = raw.buffer;
    }
  }
  return buffer instanceof ArrayBuffer && buffer.byteLength === length;
}
