import type { TimeRange } from '../store.js';
import type { Level } from './schema.js';

/** A piece of a range answered by one table: whole units of a rollup level, or raw rows. */
export type Segment =
  | { readonly level: Level; /** first unit number, inclusive */ readonly from: number; /** last unit, exclusive */ readonly to: number }
  | { readonly level: undefined; /** Unix ms, inclusive */ readonly from: number; /** Unix ms, exclusive */ readonly to: number };

/**
 * Splits [from, to) into the coarsest whole units each level can answer, and raw edges: e.g.
 * 09:20 Monday → 14:10 Thursday is raw 09:20–10:00, hours 10–24 Monday, days Tuesday–Wednesday,
 * hours 0–14 Thursday, raw 14:00–14:10. Every instant of the range lies in exactly one segment,
 * so sums over the segments equal the sum over raw rows.
 *
 * `levels` are coarsest first, each unit a multiple of the next.
 */
export function splitRange(range: TimeRange, levels: readonly Level[]): Segment[] {
  const from = Math.floor(range.from);
  const to = Math.ceil(range.to);
  if (to <= from) return [];
  const [level, ...finer] = levels;
  if (!level) return [{ level: undefined, from, to }];
  const first = Math.ceil(from / level.unitMs);
  const end = Math.floor(to / level.unitMs);
  if (first >= end) return splitRange({ from, to }, finer);
  return [
    ...splitRange({ from, to: first * level.unitMs }, finer),
    { level, from: first, to: end },
    ...splitRange({ from: end * level.unitMs, to }, finer),
  ];
}

/** The levels whose units never straddle a bucket of `[from + k·step, …)`: both must be whole units. */
export function levelsAlignedTo(levels: readonly Level[], fromMs: number, stepMs: number): Level[] {
  return levels.filter((l) => fromMs % l.unitMs === 0 && stepMs % l.unitMs === 0);
}
