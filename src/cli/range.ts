import type { Command } from 'commander';
import type { TimeRange } from '../store/store.js';
import { parseRange } from '../query/time.js';

/** --from/--until on every verb that reads a range; both accept now-1h, RFC3339, Unix seconds/ms. */
export function withRangeOptions(cmd: Command, defaultFrom = 'now-1h'): Command {
  return cmd
    .option('--from <time>', 'range start: now-1h, 2026-11-24T10:00:00Z, Unix seconds or ms', defaultFrom)
    .option('--until <time>', 'range end', 'now');
}

export function rangeFrom(opts: { from: string; until: string }): TimeRange {
  return parseRange(opts.from, opts.until);
}
