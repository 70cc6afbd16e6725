import type { FastifyInstance } from 'fastify';
import { InputError } from '../model/errors.js';
import { TooManyRequests } from './backpressure.js';
import type { ServerContext } from './context.js';
import { limitsFor, OTLP_GRPC_MAX_MESSAGE_BYTES } from './limits.js';
import { tenantOf } from './tenant.js';

/** Connect/gRPC routes (`/<package>.<Service>/<Method>`): their body cap is enforced here, not by fastify. */
const CONNECT_PATH = /^\/[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+\/[A-Za-z0-9_]+/;
/** Routes whose body cap is below max_body (see OTLP_GRPC_MAX_MESSAGE_BYTES). */
const SMALLER_CAPS: readonly [RegExp, number, string][] = [[/^\/opentelemetry\.proto\.collector\.profiles\.v1development\.ProfilesService\//, OTLP_GRPC_MAX_MESSAGE_BYTES, 'the largest OTLP message Kiln takes over gRPC/Connect (send bigger ones to /v1development/profiles)']];
/** Read routes: the HTTP APIs, Pyroscope's render, and querier.v1 over Connect/gRPC. */
const READ_PATH = /^\/(api\/v1\/|render|pyroscope\/render|querier\.v1\.QuerierService\/)/;

/**
 * Request-level limits that apply before any handler runs:
 * - a Connect/gRPC body announced larger than maxBodyBytes is 413 at once (fastify's own routes answer
 *   413 themselves). Connect would otherwise
 *   refuse it as ResourceExhausted, which its HTTP mapping sends as 429 — and SDKs retry a 429 forever;
 * - reads of one tenant running at once are capped (max_concurrent_queries): past it 429 + Retry-After,
 *   so one team's dashboard storm waits its turn and the others' reads keep their latency.
 */
export function registerRequestLimits(app: FastifyInstance, ctx: ServerContext): void {
  const running = new Map<string, number>();
  // A callback hook, not an async one: every request (each ingest push) runs it, and an async hook costs a
  // promise and a microtask turn more; fastify catches a throw from it as it does an async hook's rejection.
  app.addHook('onRequest', (req, reply, done) => {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > ctx.limits.maxBodyBytes && CONNECT_PATH.test(req.url)) {
      throw new InputError(`the request body is ${length} bytes, more than ${ctx.limits.maxBodyBytes}: over the limit max_body (kiln server --max-body)`, 413);
    }
    for (const [path, cap, what] of SMALLER_CAPS) {
      if (length > cap && path.test(req.url)) throw new InputError(`the request body is ${length} bytes, more than ${cap}: ${what}`, 413);
    }
    if (!READ_PATH.test(req.url)) return done();
    let tenant: string;
    try {
      tenant = tenantOf(req.headers);
    } catch {
      return done(); // a bad tenant header is the handler's 400 to give
    }
    const max = limitsFor(ctx, tenant).maxConcurrentQueries;
    const n = running.get(tenant) ?? 0;
    if (n >= max) throw new TooManyRequests(`tenant ${tenant} has ${n} queries running, the limit max_concurrent_queries; retry shortly`, 1);
    running.set(tenant, n + 1);
    // 'close' fires once whether the answer was sent or the client left.
    reply.raw.once('close', () => {
      const left = (running.get(tenant) ?? 1) - 1;
      if (left === 0) running.delete(tenant);
      else running.set(tenant, left);
    });
    done();
  });
}
