import { AsyncLocalStorage } from 'node:async_hooks';
import type { Interceptor } from '@connectrpc/connect';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PermissionDenied, Unauthenticated } from '../model/errors.js';
import type { AuthConfig } from './auth-config.js';
import type { Access, Need } from './auth.js';
import { authenticate } from './auth.js';
import type { ServerMetrics } from './metrics.js';

/**
 * The request's access (principal, tenant, scope), built once at the edge and visible to everything
 * the request runs: tenantOf (tenant.ts) answers with its tenant and the query layer ANDs its scope
 * into every read (src/query/scoped-store.ts). An AsyncLocalStorage rather than a parameter because
 * then no handler can forget to pass it on: a read that is not under an access runs unscoped only
 * when the server has no `auth:`.
 */
const storage = new AsyncLocalStorage<Access>();

export function currentAccess(): Access | undefined {
  return storage.getStore();
}

/** Routes anyone may fetch: probes, and the UI's static files (the UI then asks for a token itself). */
const OPEN = new Set(['/healthz', '/ready', '/', '/*']);
/** Ingest, the only thing a write token may do. */
const WRITE_ROUTES = new Set([
  '/ingest',
  '/pyroscope/ingest',
  '/v1development/profiles',
  '/kiln/v1/rows',
  '/push.v1.PusherService/Push',
  '/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export',
  '/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw',
]);
/**
 * For operators only. /metrics names every tenant's functions (server-wide). Settings writes change
 * what every user of the tenant sees (Profiles Drilldown's tenant-wide settings), so a read token —
 * the one a Grafana data source holds, maybe scoped to one team — may read them but not change them.
 */
const ADMIN_ROUTES = new Set([
  '/metrics',
  '/settings.v1.SettingsService/Set',
  '/settings.v1.SettingsService/Delete',
  '/settings.v1.RecordingRulesService/UpsertRecordingRule',
  '/settings.v1.RecordingRulesService/DeleteRecordingRule',
]);
/** Who am I: any valid token may ask (the UI's "signed in as"). */
export const WHOAMI_PATH = '/api/v1/whoami';

/**
 * What a request needs, from the route fastify matched — not from the URL as sent, which may spell the
 * same route differently (`/%61pi/v1/top` routes to `/api/v1/top`). Deny by default: every route is a
 * read unless it is open, ingest, whoami or admin-only. No route at all (undefined: a 404, or the UI's
 * index.html for a client-side path) holds no data.
 */
export function needOf(route: string | undefined): Need | 'any' | undefined {
  if (route === undefined || OPEN.has(route)) return undefined;
  if (WRITE_ROUTES.has(route)) return 'write';
  if (route === WHOAMI_PATH) return 'any';
  if (ADMIN_ROUTES.has(route)) return 'admin';
  return 'read';
}

function check(auth: AuthConfig, headers: FastifyRequest['headers'] | Headers, need: Need | 'any', metrics: ServerMetrics): Access {
  try {
    if (need !== 'any') return authenticate(auth, headers, need);
    // Any role: ask for the weakest thing that role can do.
    try {
      return authenticate(auth, headers, 'read');
    } catch (e) {
      if (e instanceof PermissionDenied && e.reason === 'role') return authenticate(auth, headers, 'write');
      throw e;
    }
  } catch (e) {
    if (e instanceof Unauthenticated || e instanceof PermissionDenied) metrics.authFailures.inc({ reason: e.reason });
    throw e;
  }
}

const accessOfRequest = new WeakMap<object, Access>();

/** A Connect unary call (`POST /<package>.<Service>/<Method>` in JSON or protobuf), which expects Connect's error body. */
function isConnectUnary(req: FastifyRequest): boolean {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  return req.method === 'POST' && /^application\/(json|proto)\b/.test(type) && /^\/[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+\/[A-Za-z0-9_]+$/.test(req.routeOptions.url ?? '');
}

/**
 * The fastify hooks: onRequest checks the credential before the body is read (an unauthenticated
 * upload costs its sender nothing of ours), preHandler runs the rest of the request under its access.
 * `auth` is read per request, so a reloaded config applies to the next request.
 */
export function registerAuth(app: FastifyInstance, auth: () => AuthConfig | undefined, metrics: ServerMetrics): void {
  app.addHook('onRequest', async (req, reply) => {
    const current = auth();
    if (!current) return;
    const need = needOf(req.routeOptions.url);
    if (need === undefined) return;
    let access: Access;
    try {
      access = check(current, req.headers, need, metrics);
    } catch (e) {
      if (!isConnectUnary(req) || !(e instanceof Unauthenticated || e instanceof PermissionDenied)) throw e;
      // A Connect client (Grafana's connect-go) reads only a Connect error body; from `{error}` it would
      // show "Forbidden" and lose the reason. `error` stays for readers of Kiln's usual body.
      const code = e instanceof Unauthenticated ? 'unauthenticated' : 'permission_denied';
      if (e instanceof Unauthenticated) void reply.header('www-authenticate', 'Bearer realm="kiln"');
      return reply.status(e instanceof Unauthenticated ? 401 : 403).type('application/json').send({ code, message: e.message, error: e.message });
    }
    metrics.authRequests.inc({ token: access.principal });
    accessOfRequest.set(req.raw, access);
    // Request logs (--log) name the token and tenant, never the token's value.
    req.log = reply.log = req.log.child({ token: access.principal, tenant: access.tenant });
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const access = accessOfRequest.get(req.raw);
    if (access) storage.run(access, done);
    else done();
  });
  app.get(WHOAMI_PATH, async (req) => {
    const access = accessOfRequest.get(req.raw);
    if (!access) return { auth: auth() !== undefined };
    const { principal, role, tenant, tenants, scopeText } = access;
    return { auth: true, principal, role, tenant, tenants, scope: scopeText ?? '' };
  });
}

/**
 * Connect calls are fastify routes, so the hooks above have already run; this interceptor makes sure
 * the handler runs under the access even if a transport detaches it from the hook's async context.
 */
export function authInterceptor(auth: () => AuthConfig | undefined, metrics: ServerMetrics): Interceptor {
  return (next) => async (req) => {
    const current = auth();
    if (!current || currentAccess()) return next(req);
    // The method called, by its descriptor: however the URL spelled it.
    const need = needOf(`/${req.service.typeName}/${req.method.name}`) ?? 'read';
    return storage.run(check(current, req.header, need, metrics), () => next(req));
  };
}
