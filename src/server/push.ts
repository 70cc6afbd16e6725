import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { decodePprof } from '../formats/pprof.js';
import { InputError } from '../model/errors.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import { PusherService } from '../gen/push/v1/push_pb.js';
import type { PushRequest } from '../gen/push/v1/push_pb.js';
import type { ServerContext } from './context.js';
import { withIngestSlot } from './backpressure.js';
import type { TenantLimits } from './limits.js';
import { decodeBudget, inflatePprof, limitsFor } from './limits.js';
import { tenantOf } from './tenant.js';
import { decodeAllowingEmpty, writeProfiles } from './write.js';

/** Profile type name the pusher states in `__name__` (process_cpu, memory, goroutine, mutex, block). */
const NAME_LABEL = '__name__';

/**
 * `push.v1.PusherService/Push` — how Grafana Alloy and the Pyroscope Go/Java SDKs send pprof. The
 * whole request is decoded and validated before anything is written, so a bad sample in series 3
 * leaves series 1 and 2 unwritten too (the client retries the request as a unit).
 */
export function pushRoutes(router: ConnectRouter, ctx: ServerContext): void {
  router.service(PusherService, {
    async push(req: PushRequest, hc: HandlerContext) {
      const tenant = tenantOf(hc.requestHeader);
      let bytes = 0;
      for (const s of req.series) for (const sample of s.samples) bytes += sample.rawProfile.length;
      ctx.metrics.ingestBytes.inc({ protocol: 'push' }, bytes);
      try {
        await withIngestSlot(ctx, tenant, bytes, async () => writeProfiles(ctx, tenant, 'push', await decodePush(req, limitsFor(ctx, tenant))));
      } catch (e) {
        ctx.metrics.ingestErrors.inc({ protocol: 'push', reason: e instanceof InputError ? 'input' : 'internal' });
        throw e;
      }
      return {};
    },
  });
}

async function decodePush(req: PushRequest, limits: TenantLimits): Promise<Profile[]> {
  const out: Profile[] = [];
  // One budget for the whole request: distinct stacks and frames add up across its series.
  const budget = decodeBudget(limits);
  for (const [i, series] of req.series.entries()) {
    let typeName: string | undefined;
    const pairs: [string, string][] = [];
    for (const l of series.labels) {
      if (l.name === NAME_LABEL) typeName = l.value;
      // Labels starting with __ are Pyroscope-internal (__delta__, __name__ …), not series labels.
      else if (!l.name.startsWith('__')) pairs.push([l.name, l.value]);
    }
    const labels = labelsFrom(pairs);
    for (const sample of series.samples) {
      if (sample.rawProfile.length === 0) throw new InputError(`series ${i}: empty raw_profile`);
      const raw = await inflatePprof(sample.rawProfile, limits);
      const profiles = decodeAllowingEmpty(() => decodePprof(raw, { labels, budget }));
      // __name__ names the whole profile; apply it only when the profile measures one kind of thing.
      const names = new Set(profiles.map((p) => p.type.name));
      for (const p of profiles) {
        out.push(typeName && names.size === 1 && /^[A-Za-z0-9_.\-]+$/.test(typeName) ? { ...p, type: { ...p.type, name: typeName } } : p);
      }
    }
  }
  return out;
}
