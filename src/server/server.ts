import { registerRowsIngest } from './rows-ingest.js';
import { existsSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { ConnectRouter } from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config/server-config.js';
import { NO_TEAMS } from '../insight/teams.js';
import { withTeams } from '../insight/teams-store.js';
import { QueryEngine } from '../query/engine.js';
import { withScope } from '../query/scoped-store.js';
import type { Store } from '../store/store.js';
import type { ServerContext, ServerLimits } from './context.js';
import { DEFAULT_LIMITS } from './context.js';
import type { ConnectionLimits } from './connections.js';
import { DEFAULT_CONNECTION_LIMITS } from './connections.js';
import { createDualProtocolServer } from './dual-protocol.js';
import { attachDecodePool, createDecodePool } from './decode-pool.js';
import { registerRequestLimits } from './limits-hooks.js';
import type { DualHandler } from './dual-protocol.js';
import { errorInterceptor, registerErrorHandler, sendNotFound } from './errors.js';
import { authInterceptor, currentAccess, registerAuth } from './auth-context.js';
import type { TlsFiles } from './tls.js';
import { createTlsServer } from './tls.js';
import { registerIngest } from './ingest.js';
import { registerKilnApi } from './kiln-api.js';
import { registerCompareApi } from './compare-api.js';
import { registerSummaryApi } from './summary-api.js';
import { registerAnomaliesApi } from './anomalies-api.js';
import { registerOverviewApi } from './overview-api.js';
import { registerReportApi } from './report-api.js';
import { ServerMetrics, registerMetricsRoutes } from './metrics.js';
import { otlpConnectRoutes, registerOtlp } from './otlp.js';
import { pushRoutes } from './push.js';
import { querierRoutes } from './querier.js';
import { registerRender } from './render.js';
import { capabilitiesRoutes } from './capabilities.js';
import { settingsRoutes } from './settings.js';
import { parcaApiRoutes, parcaUiRoutes } from './parca-api.js';
import { registerScrape } from './scrape.js';

import { DEFAULT_HOST, DEFAULT_PORT } from './listen-defaults.js';
export { DEFAULT_HOST, DEFAULT_PORT } from './listen-defaults.js';

export interface ServerOptions {
  readonly store: Store;
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port?: number;
  /** Directory of the built web UI (index.html + assets); served at `/` when it exists. */
  readonly uiDir?: string;
  readonly limits?: Partial<ServerLimits>;
  /** Header, body and idle timeouts and the cap on open connections (connections.ts). */
  readonly connections?: Partial<ConnectionLimits>;
  /** Log requests (pino, JSON lines on stdout). Off by default: tests and the CLI stay quiet. */
  readonly logger?: boolean;
  /** The live config (`kiln server --config`, reloads included): teams and prices are read from it per request. */
  readonly config?: () => ServerConfig;
  /** Serve HTTPS (HTTP/1.1 and h2 by ALPN) on the port instead of cleartext HTTP/1.1 and h2c. */
  readonly tls?: TlsFiles;
  /** Threads that decode ingest payloads (decode-pool.ts); 0 decodes on the event loop. Default: cores − 1, at least 1. */
  readonly decodeWorkers?: number;
}

export interface RunningServer {
  /** Base URL clients use, e.g. `http://127.0.0.1:4040` (a wildcard bind is reported as loopback). */
  readonly url: string;
  readonly port: number;
  readonly context: ServerContext;
  /** Stops accepting, lets in-flight requests finish (up to a few seconds), then closes. Does not close the store. */
  close(): Promise<void>;
}

/** Builds the fastify app with every protocol's routes; exported so tests can `inject` without a socket. */
export async function buildApp(ctx: ServerContext, opts: Pick<ServerOptions, 'uiDir' | 'logger' | 'tls' | 'connections'> = {}): Promise<FastifyInstance> {
  const connections: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.connections };
  const app: FastifyInstance = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: ctx.limits.maxBodyBytes,
    // One TCP port, HTTP/1.1 and h2c: fastify's types only know one or the other, hence the cast.
    serverFactory: (handler) =>
      (opts.tls ? createTlsServer(opts.tls, handler as DualHandler) : createDualProtocolServer(handler as DualHandler, connections)) as unknown as http.Server,
    forceCloseConnections: 'idle',
  });
  registerErrorHandler(app);
  // Before every route: the credential is checked, and the request runs under its tenant and scope.
  const auth = () => ctx.config?.().auth;
  registerAuth(app, auth, ctx.metrics);
  registerRequestLimits(app, ctx);
  registerMetricsRoutes(app, ctx);
  await app.register(async (scope) => registerIngest(scope, ctx));
  await app.register(async (scope) => registerRender(scope, ctx));
  await app.register(async (scope) => registerKilnApi(scope, ctx));
  await app.register(async (scope) => registerCompareApi(scope, ctx));
  await app.register(async (scope) => registerSummaryApi(scope, ctx));
  await app.register(async (scope) => registerOverviewApi(scope, ctx));
  await app.register(async (scope) => registerAnomaliesApi(scope, ctx));
  await app.register(async (scope) => registerReportApi(scope, ctx));
  await app.register(async (scope) => registerOtlp(scope, ctx));
  await app.register(async (scope) => registerRowsIngest(scope, ctx));
  registerScrape(app, ctx);
  await app.register(fastifyConnectPlugin, {
    interceptors: [errorInterceptor, authInterceptor(auth, ctx.metrics)],
    readMaxBytes: ctx.limits.maxBodyBytes,
    routes: (router: ConnectRouter) => {
      pushRoutes(router, ctx);
      querierRoutes(router, ctx);
      settingsRoutes(router, () => ctx.config?.().rules ?? []);
      capabilitiesRoutes(router);
      parcaApiRoutes(router, ctx);
      otlpConnectRoutes(router, ctx);
    },
  });
  // The Parca UI's API path (parca-api.ts).
  await app.register(fastifyConnectPlugin, {
    prefix: '/api',
    interceptors: [errorInterceptor, authInterceptor(auth, ctx.metrics)],
    readMaxBytes: ctx.limits.maxBodyBytes,
    routes: (router: ConnectRouter) => parcaUiRoutes(router, ctx),
  });
  if (opts.uiDir && existsSync(path.join(opts.uiDir, 'index.html'))) await registerUi(app, path.resolve(opts.uiDir));
  else app.setNotFoundHandler(sendNotFound);
  return app;
}

/** Serves the built UI; unknown GET paths that want HTML get index.html so client-side routes work. */
async function registerUi(app: FastifyInstance, root: string): Promise<void> {
  // Wildcard mode looks files up per request, so a rebuilt UI (new hashed assets) is served without a restart.
  await app.register(fastifyStatic, { root, index: 'index.html' });
  app.setNotFoundHandler((req, reply) => {
    const wantsHtml = (req.headers.accept ?? '').includes('text/html');
    if (req.method === 'GET' && wantsHtml && !req.url.startsWith('/api/')) return reply.sendFile('index.html');
    return sendNotFound(req, reply);
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const ctx: ServerContext = {
    store: opts.store,
    // `{team="…"}` means the configured team's matchers on every read (src/insight/teams.ts).
    // The scope is added outside the teams, so a scope written as {team="…"} is expanded like any selector.
    query: new QueryEngine(withScope(withTeams(opts.store, () => opts.config?.().teams ?? NO_TEAMS), () => currentAccess()?.scope ?? [])),
    config: opts.config,
    metrics: new ServerMetrics(opts.store),
    limits,
  };
  // Every request that may wait for a decode thread holds an ingest slot, so the slots bound the queue.
  const decodePool = createDecodePool({ threads: opts.decodeWorkers, maxQueue: limits.maxPendingWrites });
  attachDecodePool(ctx, decodePool);
  const app = await buildApp(ctx, opts);
  const host = opts.host ?? DEFAULT_HOST;
  try {
    await app.listen({ host, port: opts.port ?? DEFAULT_PORT });
  } catch (e) {
    await decodePool.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_PORT);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    context: ctx,
    async close() {
      // Idle keep-alive connections close at once; busy ones get a grace period, then are cut.
      const force = setTimeout(() => (app.server as ReturnType<typeof createDualProtocolServer>).closeAllConnections(), 3000);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
        await decodePool.close();
      }
    },
  };
}
