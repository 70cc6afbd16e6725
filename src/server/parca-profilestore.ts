import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { AgentsService, ProfileStoreService } from '../gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import type { WriteRawRequest } from '../gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { mapRequestErrors } from './connect-request-errors.js';
import type { ServerContext } from './context.js';
import { pprofSeries } from './decode-tasks.js';
import { ownsBody } from './push.js';
import { tenantOf } from './tenant.js';
import { writePprofSeries } from './write.js';

/**
 * `parca.profilestore.v1alpha1.ProfileStoreService` — how Parca agents (pprof mode) and Parca's own
 * scraper push. WriteRaw carries pprof profiles per label set; like push.v1, the whole request is
 * decoded and checked before anything is written. Write and WriteArrow carry parca-agent's Arrow
 * records, whose columns (both its v1 and v2 schemas) are run-end encoded and list views — Arrow
 * types the `apache-arrow` JavaScript package cannot read. They answer Unimplemented, so an agent
 * configured for them fails loudly rather than losing data.
 */
export function parcaProfileStoreRoutes(router: ConnectRouter, ctx: ServerContext): void {
  const arrow =
    'Kiln does not read parca-agent Arrow records (run-end encoded and list-view columns): push pprof with WriteRaw, or profile with kiln agent or an OTLP profiler';
  router.service(ProfileStoreService, {
    async writeRaw(req: WriteRawRequest, hc: HandlerContext) {
      const tenant = tenantOf(hc.requestHeader);
      const series = req.series.map((s) => pprofSeries(s.labels?.labels ?? [], s.samples));
      // As push.v1 does (push.ts): a body read into a buffer of its own moves to the decode thread uncopied.
      await writePprofSeries(ctx, tenant, 'parca', series, ownsBody(series, hc.requestHeader));
      return {};
    },
    // A bidi stream handler is an async generator; this one refuses before reading anything.
    async *write() {
      throw new ConnectError(arrow, Code.Unimplemented);
    },
    writeArrow() {
      throw new ConnectError(arrow, Code.Unimplemented);
    },
  });
  mapRequestErrors(router, ProfileStoreService);
  // Parca's UI lists agents that push Arrow; a pprof pusher is not tracked, so the list is empty.
  router.service(AgentsService, { agents: () => ({ agents: [] }) });
}
