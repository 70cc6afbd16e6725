import type { Id } from '../model/index.js';

/** How far back from the newest profile the ids are loaded at open: replays come within minutes. */
export const RECENT_WINDOW_MS = 3_600_000;

/**
 * Content ids of recently stored profiles, for replay detection without a query per write. Invariant:
 * every profile this store stored with time ≥ `floorMs` is in memory, so — when this process is the
 * only writer — a miss proves the profile is new; older ones (a re-imported file, say) are checked
 * against the engine. When the map outgrows its bound the floor rises and the older half is forgotten.
 */
export class RecentProfiles {
  private readonly ids = new Map<Id, number>();

  constructor(
    private floorMs: number,
    readonly capacity = 200_000,
  ) {}

  /** true / false when memory knows; undefined when the engine must be asked. */
  stored(id: Id, timeMs: number): boolean | undefined {
    if (timeMs < this.floorMs) return undefined;
    return this.ids.has(id);
  }

  /** Only for committed profiles. */
  add(id: Id, timeMs: number): void {
    if (timeMs < this.floorMs) return;
    this.ids.set(id, timeMs);
    if (this.ids.size <= this.capacity) return;
    const times = Float64Array.from(this.ids.values()).sort();
    this.floorMs = times[Math.floor(times.length / 2)]!;
    for (const [k, t] of this.ids) if (t < this.floorMs) this.ids.delete(k);
  }
}
