import { Code, ConnectError } from '@connectrpc/connect';
import type { Interceptor } from '@connectrpc/connect';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PermissionDenied, Unauthenticated, isInputError, isUnavailable } from '../model/errors.js';
import { TooManyRequests } from './backpressure.js';
import { ClientClosedRequest, DeadlineExceeded } from './deadline.js';

/**
 * The one place errors become statuses, for HTTP and for Connect/gRPC alike. Every error answer is JSON
 * `{ "error": "…" }`:
 * - 4xx with the reason when the client sent something wrong (InputError, or a request fastify refused);
 * - 401 + `WWW-Authenticate` without a known credential (Unauthenticated), 403 for what the credential
 *   does not grant (PermissionDenied); neither is logged (a scanner would flood the log) — they are
 *   counted per reason in /metrics instead (auth-context.ts);
 * - 503 + `Retry-After` when a dependency (the store) is down or slow (Unavailable): agents and SDKs retry;
 * - 504 when a read ran past its deadline (DeadlineExceeded, deadline.ts);
 * - 499 when the client left before its answer (nobody reads it; not logged);
 * - 500 only for bugs — which are logged.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (isInputError(err)) {
      // A 429 (backpressure.ts) says when to come back, as 503s do.
      if (err instanceof TooManyRequests) void reply.header('retry-after', String(err.retryAfterSeconds));
      void reply.status(err.status).send({ error: err.message });
      return;
    }
    if (err instanceof Unauthenticated) {
      // Bearer first (agents, the CLI), Basic for Grafana and the SDKs; no realm dialog in browsers is wanted, the UI asks itself.
      void reply.status(401).header('www-authenticate', 'Bearer realm="kiln"').send({ error: err.message });
      return;
    }
    if (err instanceof PermissionDenied) {
      void reply.status(403).send({ error: err.message });
      return;
    }
    if (isUnavailable(err)) {
      req.log.warn({ err }, 'dependency unavailable');
      void reply.status(503).header('retry-after', String(err.retryAfterSeconds)).send({ error: err.message });
      return;
    }
    if (err instanceof DeadlineExceeded) {
      void reply.status(504).send({ error: err.message });
      return;
    }
    if (err instanceof ClientClosedRequest) {
      void reply.status(499).send({ error: err.message });
      return;
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.status(status).send({ error: err.message });
      return;
    }
    req.log.error({ err }, 'request failed');
    void reply.status(500).send({ error: `internal error: ${err.message}` });
  });
}

/** The JSON 404 every unknown API path gets. */
export function sendNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]}` });
}

const STATUS_TO_CODE: Record<number, Code> = {
  400: Code.InvalidArgument,
  404: Code.NotFound,
  413: Code.ResourceExhausted,
  415: Code.InvalidArgument,
  422: Code.InvalidArgument,
  429: Code.ResourceExhausted,
};

/** Maps a typed error thrown by a Connect handler to the Connect/gRPC code that says the same. */
export function toConnectError(e: unknown): unknown {
  if (e instanceof TooManyRequests) return new ConnectError(e.message, Code.ResourceExhausted, { 'retry-after': String(e.retryAfterSeconds) });
  if (isInputError(e)) return new ConnectError(e.message, STATUS_TO_CODE[e.status] ?? Code.InvalidArgument);
  if (e instanceof Unauthenticated) return new ConnectError(e.message, Code.Unauthenticated);
  if (e instanceof PermissionDenied) return new ConnectError(e.message, Code.PermissionDenied);
  // gRPC has no Retry-After; Connect sends metadata as headers (or trailers), where a client can read it.
  if (isUnavailable(e)) return new ConnectError(e.message, Code.Unavailable, { 'retry-after': String(e.retryAfterSeconds) });
  if (e instanceof DeadlineExceeded) return new ConnectError(e.message, Code.DeadlineExceeded);
  if (e instanceof ClientClosedRequest) return new ConnectError(e.message, Code.Canceled);
  return e;
}

/** Server-side interceptor: typed errors become InvalidArgument, Unavailable & co., not Internal. */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (e) {
    throw toConnectError(e);
  }
};
