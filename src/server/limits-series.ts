import { limitExceeded } from '../formats/decode-limits.js';
import { seriesId, type Id } from '../model/ids.js';
import type { Selector } from '../model/matcher.js';
import type { Profile } from '../model/profile.js';
import { MAX_TIME_MS } from '../model/validate.js';
import type { Store, WriteResult } from '../store/store.js';

/**
 * `max_series_per_tenant`: how many distinct series (profile type + label set) a tenant may hold. A
 * label with unbounded values (a request id, a timestamp) would otherwise grow the series table, and
 * every label listing and selector match, without end. A write that would add series past the limit
 * is refused whole with 400 naming it (retrying cannot help, so not 429); writes to series the tenant
 * already holds keep being accepted.
 *
 * The ids a tenant holds are read from the store once per server process (its first write), then
 * kept up to date with what this server writes. With several servers on one ClickHouse each counts
 * the others' new series only from its next start, so the limit can be overshot by what the others
 * add meanwhile; memory is ≈ 100 bytes per series held.
 */
/** Every series of every profile type. */
const EVERY_SERIES: Selector = { profileType: '', matchers: [] };

export class SeriesLimiter {
  private readonly held = new Map<string, Promise<Set<Id>>>();

  constructor(private readonly store: Store) {}

  /**
   * Calls `write` unless `profiles` would take `tenant` past `max` series (0: no limit). No closure
   * here captures `write` or the profiles: they must not stay reachable until the commit (see
   * writeProfiles), so only their series ids are carried across the awaits.
   */
  admit(tenant: string, profiles: readonly Profile[], max: number, write: () => Promise<WriteResult>): Promise<WriteResult> {
    if (max <= 0) return write();
    const ids = new Set<Id>();
    for (const p of profiles) ids.add(seriesId(tenant, p.type, p.labels));
    const admitted = this.check(tenant, ids, max);
    return Promise.all([admitted, admitted.then(write)]).then(recordFresh);
  }

  private async check(tenant: string, ids: Set<Id>, max: number): Promise<Admitted> {
    const held = await this.heldBy(tenant);
    const fresh: Id[] = [];
    for (const id of ids) if (!held.has(id)) fresh.push(id);
    if (fresh.length > 0 && held.size + fresh.length > max) {
      throw limitExceeded(
        'max_series_per_tenant',
        `tenant ${tenant} holds ${held.size} series of at most ${max}, and this request would add ${fresh.length} new ones (a label with ever-changing values makes a series each)`,
        400,
      );
    }
    return { held, fresh };
  }

  private heldBy(tenant: string): Promise<Set<Id>> {
    let held = this.held.get(tenant);
    if (!held) {
      held = this.store
        .series({ tenant, selector: EVERY_SERIES, from: 0, to: MAX_TIME_MS })
        .then((all) => new Set(all.map((s) => s.id)));
      // A failed read (store down) is not remembered: the next write asks again.
      held.catch(() => this.held.delete(tenant));
      this.held.set(tenant, held);
    }
    return held;
  }
}

/** A write let through: the series it adds, counted once it is stored. */
interface Admitted {
  readonly held: Set<Id>;
  readonly fresh: readonly Id[];
}

function recordFresh([{ held, fresh }, result]: [Admitted, WriteResult]): WriteResult {
  for (const id of fresh) held.add(id);
  return result;
}

const limiters = new WeakMap<Store, SeriesLimiter>();

/** The one limiter of a store (a server has one store; tests run several servers in one process). */
export function seriesLimiter(store: Store): SeriesLimiter {
  let l = limiters.get(store);
  if (!l) limiters.set(store, (l = new SeriesLimiter(store)));
  return l;
}
