import type { ConnectRouter } from '@connectrpc/connect';
import type { ServerContext } from './context.js';
import { parcaProfileStoreRoutes } from './parca-profilestore.js';
import { parcaQueryRoutes } from './parca-query.js';

/**
 * Every Parca service Kiln serves. Mounted twice: at the root, where Grafana's Parca data source and
 * Parca agents call, and under /api, where the Parca UI calls.
 */
export function parcaApiRoutes(router: ConnectRouter, ctx: ServerContext): void {
  parcaQueryRoutes(router, ctx);
  parcaProfileStoreRoutes(router, ctx);
}
