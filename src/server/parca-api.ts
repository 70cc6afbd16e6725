import type { ConnectRouter } from '@connectrpc/connect';
import type { ServerContext } from './context.js';
import { parcaProfileStoreRoutes } from './parca-profilestore.js';
import { parcaQueryRoutes } from './parca-query.js';

/** Every Parca service Kiln serves, at the root: where Grafana's Parca data source and Parca agents call. */
export function parcaApiRoutes(router: ConnectRouter, ctx: ServerContext): void {
  parcaQueryRoutes(router, ctx);
  parcaProfileStoreRoutes(router, ctx);
}

/**
 * What the Parca UI calls, under /api (its gRPC-web base URL is `<api endpoint>/api`): queries only.
 * Access is judged by route, and only the root spellings of ingest routes need a write token, so
 * ProfileStoreService must not answer under a second path.
 */
export function parcaUiRoutes(router: ConnectRouter, ctx: ServerContext): void {
  parcaQueryRoutes(router, ctx);
}
