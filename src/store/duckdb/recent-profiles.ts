import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import { big, num } from './sql.js';

/** How far back from the newest profile the ids are loaded at open: replays come within minutes. */
const WINDOW_MS = 3_600_000;

/**
 * Content ids of recently stored profiles, for replay detection without a query per write. Invariant:
 * every stored profile with time ≥ `floorMs` is in memory, so for those a miss proves the profile is
 * new; older ones (a re-imported file, say) are checked against the `profiles` table. When the map
 * outgrows its bound the floor rises and the older half is forgotten.
 */
export class RecentProfiles {
  private readonly ids = new Map<Id, number>();

  private constructor(
    private floorMs: number,
    readonly capacity: number,
  ) {}

  static async load(conn: DuckDBConnection, capacity = 200_000): Promise<RecentProfiles> {
    const max = (await conn.runAndReadAll('SELECT max(time_ms) FROM profiles')).getRows()[0]![0]!;
    if (max === null) return new RecentProfiles(-Infinity, capacity);
    const floor = num(max) - WINDOW_MS;
    const r = new RecentProfiles(floor, capacity);
    const rows = await conn.runAndReadAll('SELECT profile_id, time_ms FROM profiles WHERE time_ms >= $1', [BigInt(floor)], [BIGINT]);
    for (const [id, t] of rows.getRows()) r.add(big(id!), num(t!));
    return r;
  }

  /** true / false when memory knows; undefined when the table must be asked. */
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
