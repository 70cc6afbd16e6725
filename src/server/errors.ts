import { Code, ConnectError } from '@connectrpc/connect';
import type { Interceptor } from '@connectrpc/connect';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isInputError } from '../model/errors.js';

/**
 * Every error answer is JSON `{ "error": "…" }`: 4xx with the reason when the client sent something
 * wrong (InputError, or a request fastify itself refused), 500 only for bugs — which are logged.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (isInputError(err)) {
      void reply.status(err.status).send({ error: err.message });
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

/** Maps an InputError thrown by a Connect handler to the Connect/gRPC code that says the same. */
export function toConnectError(e: unknown): unknown {
  if (isInputError(e)) return new ConnectError(e.message, STATUS_TO_CODE[e.status] ?? Code.InvalidArgument);
  return e;
}

/** Server-side interceptor: user errors become InvalidArgument & co., not Internal. */
export const inputErrorInterceptor: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (e) {
    throw toConnectError(e);
  }
};
