import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/store.js';
import type { ServerContext } from './context.js';

/** Protocols an ingest arrives by; the label on every ingest metric. */
export type IngestProtocol = 'ingest' | 'push' | 'otlp_grpc' | 'otlp_http' | 'parca' | 'scrape' | (string & {});

/**
 * Kiln's own Prometheus metrics, one registry per server (so tests can run several servers in one
 * process without the global registry double-registering).
 */
export class ServerMetrics {
  readonly registry = new Registry();

  readonly ingestProfiles = this.counter('kiln_ingest_profiles_total', 'Profiles accepted and stored, by protocol.', ['protocol']);
  readonly ingestRows = this.counter('kiln_ingest_rows_total', 'Rows (stack, value pairs) accepted and stored, by protocol.', ['protocol']);
  readonly ingestBytes = this.counter(
    'kiln_ingest_bytes_total',
    'Request body bytes received by ingest endpoints (as sent, before decompression), by protocol.',
    ['protocol'],
  );
  readonly ingestErrors = this.counter(
    'kiln_ingest_errors_total',
    'Ingest requests rejected, by protocol and reason (input: the client sent bad data; internal: a Kiln bug or store failure).',
    ['protocol', 'reason'],
  );
  readonly authFailures = this.counter(
    'kiln_auth_failures_total',
    'Requests refused by authentication (missing, malformed, unknown_token: 401) or access (tenant, role: 403), by reason.',
    ['reason'],
  );
  readonly authRequests = this.counter('kiln_auth_requests_total', 'Authenticated requests, by token name.', ['token']);
  readonly queryDuration = new Histogram({
    name: 'kiln_query_duration_seconds',
    help: 'Query latency by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(store: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kiln_' });
    // Store figures are read at scrape time: they are cheap aggregates and always current.
    let pending: Promise<void> | undefined;
    const stats = { series: 0, rows: 0, bytesOnDisk: 0 };
    const refresh = (): Promise<void> =>
      (pending ??= store
        .stats()
        .then((s) => Object.assign(stats, s))
        .catch(() => undefined)
        .finally(() => (pending = undefined))
        .then(() => undefined));
    const gauge = (name: string, help: string, key: keyof typeof stats): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          await refresh();
          this.set(stats[key]);
        },
      });
    };
    gauge('kiln_store_series', 'Series in the store (all tenants).', 'series');
    gauge('kiln_store_rows', 'Sample rows in the store (all tenants).', 'rows');
    gauge('kiln_store_bytes', 'Bytes the store takes on disk.', 'bytesOnDisk');
  }

  /** Text added after the registry's (src/insight's function metrics, rendered once per evaluation, not per scrape). */
  private readonly appended = new Set<() => string>();

  /** Adds a source of exposition text to /metrics; returns a function that removes it. */
  appendText(source: () => string): () => void {
    this.appended.add(source);
    return () => this.appended.delete(source);
  }

  /** The full /metrics body: Kiln's own metrics, then every appended source. */
  async exposition(): Promise<string> {
    let body = await this.registry.metrics();
    for (const source of this.appended) body += source();
    return body;
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Times an async query and records it under `endpoint`, whether it succeeds or fails. */
  async timeQuery<T>(endpoint: string, run: () => Promise<T>): Promise<T> {
    const end = this.queryDuration.startTimer({ endpoint });
    try {
      return await run();
    } finally {
      end();
    }
  }
}

/**
 * `/metrics` (Prometheus text), `/healthz` (the process answers) and `/ready` (routes are registered
 * and the store answers a cheap call: what a load balancer or Kubernetes readiness probe should wait for).
 */
export function registerMetricsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/metrics', async (_req, reply) => {
    const body = await ctx.metrics.exposition();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    try {
      await ctx.store.health();
      return { status: 'ready' };
    } catch (e) {
      return reply.status(503).send({ error: `store not ready: ${(e as Error).message}` });
    }
  });
}
