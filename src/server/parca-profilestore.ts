import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { decodePprof } from '../formats/pprof.js';
import { InputError } from '../model/errors.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import { AgentsService, ProfileStoreService } from '../gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import type { WriteRawRequest } from '../gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import type { ServerContext } from './context.js';
import { withIngestSlot } from './backpressure.js';
import type { TenantLimits } from './limits.js';
import { decodeBudget, inflatePprof, limitsFor } from './limits.js';
import { tenantOf } from './tenant.js';
import { decodeAllowingEmpty, writeProfiles } from './write.js';

const TYPE_NAME = /^[A-Za-z0-9_.\-]+$/;

/**
 * `parca.profilestore.v1alpha1.ProfileStoreService` — how Parca agents (pprof mode) and Parca's own
 * scraper push. WriteRaw carries pprof profiles per label set; like push.v1, the whole request is
 * decoded and checked before anything is written. Write and WriteArrow carry Apache Arrow records,
 * which Kiln does not decode (the `apache-arrow` package is not a dependency): they answer
 * Unimplemented, so an agent configured for them fails loudly rather than losing data.
 */
export function parcaProfileStoreRoutes(router: ConnectRouter, ctx: ServerContext): void {
  const arrow = 'Kiln does not read Arrow profile records: run the agent in pprof mode (WriteRaw)';
  router.service(ProfileStoreService, {
    async writeRaw(req: WriteRawRequest, hc: HandlerContext) {
      const tenant = tenantOf(hc.requestHeader);
      let bytes = 0;
      for (const s of req.series) for (const sample of s.samples) bytes += sample.rawProfile.length;
      ctx.metrics.ingestBytes.inc({ protocol: 'parca' }, bytes);
      try {
        await withIngestSlot(ctx, tenant, bytes, async () => writeProfiles(ctx, tenant, 'parca', await decodeWriteRaw(req, limitsFor(ctx, tenant))));
      } catch (e) {
        ctx.metrics.ingestErrors.inc({ protocol: 'parca', reason: e instanceof InputError ? 'input' : 'internal' });
        throw e;
      }
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
  // Parca's UI lists agents that push Arrow; a pprof pusher is not tracked, so the list is empty.
  router.service(AgentsService, { agents: () => ({ agents: [] }) });
}

async function decodeWriteRaw(req: WriteRawRequest, limits: TenantLimits): Promise<Profile[]> {
  const out: Profile[] = [];
  const budget = decodeBudget(limits);
  for (const [i, series] of req.series.entries()) {
    let typeName: string | undefined;
    const pairs: [string, string][] = [];
    for (const l of series.labels?.labels ?? []) {
      if (l.name === '__name__') typeName = l.value;
      // Other __-labels are Parca-internal (e.g. __period_type__), not series identity.
      else if (!l.name.startsWith('__')) pairs.push([l.name, l.value]);
    }
    const labels = labelsFrom(pairs);
    for (const sample of series.samples) {
      if (sample.rawProfile.length === 0) throw new InputError(`series ${i}: empty raw_profile`);
      const raw = await inflatePprof(sample.rawProfile, limits);
      const profiles = decodeAllowingEmpty(() => decodePprof(raw, { labels, budget }));
      // __name__ (parca_agent_cpu, memory, …) names the profile when it measures one kind of thing.
      const single = new Set(profiles.map((p) => p.type.name)).size === 1;
      for (const p of profiles) out.push(typeName && single && TYPE_NAME.test(typeName) ? { ...p, type: { ...p.type, name: typeName } } : p);
    }
  }
  return out;
}
