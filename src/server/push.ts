import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { PusherService } from '../gen/push/v1/push_pb.js';
import type { PushRequest } from '../gen/push/v1/push_pb.js';
import { mapRequestErrors } from './connect-request-errors.js';
import type { ServerContext } from './context.js';
import { pprofSeries } from './decode-tasks.js';
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
      await writePprofSeries(ctx, tenant, 'push', req.series.map((series) => pprofSeries(series.labels, series.samples)));
      return {};
    },
  });
  mapRequestErrors(router, PusherService);
}
