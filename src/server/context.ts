import type { ServerConfig } from '../config/server-config.js';
import type { Store } from '../store/store.js';
import type { QueryEngine } from '../query/engine.js';
import { READ_DEADLINE_MS } from './deadline.js';
import type { ServerMetrics } from './metrics.js';
import type { TenantLimits } from './limits.js';
import { DEFAULT_TENANT_LIMITS } from './limits.js';

/**
 * What every route handler needs, built once per server and handed to each protocol's register
 * function (ingest, push, querier, render, kiln-api, otlp, …). Handlers get the tenant per request
 * from `tenantOf` (tenant.ts) and write through `writeProfiles` (write.ts), which validates the whole
 * request before anything touches the store and counts the ingest metrics.
 */
export interface ServerContext {
  readonly store: Store;
  readonly query: QueryEngine;
  readonly metrics: ServerMetrics;
  readonly limits: ServerLimits;
  /** The config file as last (re)loaded, for sections handlers read per request (teams, cost …); absent without one. */
  readonly config?: () => ServerConfig;
}

/**
 * Caps that bound the cost of one request; past them the request is a 4xx, never a partial write.
 * The per-tenant ones (limits.ts) are the defaults the config's `limits:` section overrides.
 */
export interface ServerLimits extends TenantLimits {
  /** Bytes of request body as received (compressed or not). */
  readonly maxBodyBytes: number;
  /** Ingest requests being decoded or written at once, all tenants together; past it 503 (backpressure.ts). */
  readonly maxPendingWrites: number;
  /** Rows (stack, value pairs) in one request across all its profiles. */
  readonly maxRowsPerRequest: number;
  /** Nodes a flame graph / tree answer may carry at most, whatever max_nodes asks for. */
  readonly maxNodes: number;
  /** Milliseconds a read may run before it is answered 504 / DeadlineExceeded (deadline.ts). */
  readonly readDeadlineMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  ...DEFAULT_TENANT_LIMITS,
  maxBodyBytes: 64 * 1024 * 1024,
  maxPendingWrites: 64,
  maxRowsPerRequest: 10_000_000,
  maxNodes: 65_536,
  readDeadlineMs: READ_DEADLINE_MS,
};
