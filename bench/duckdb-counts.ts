/**
 * What Kiln's writes make DuckDB do, in counts the host's load does not move: commits and the profiles
 * and sample rows each held, appenders created and closed and their chunks and flushes, statements run
 * (SQL text, prepared). Counted by wrapping DuckDBEngine.commit and the binding's methods in this
 * process. Used by bench/server-ingest.ts (in its server process) and bench/store-work.ts (for
 * bench/store-ingest.ts).
 */
import * as duck from '@duckdb/node-api';
import { DuckDBEngine } from '../src/store/duckdb/duckdb-engine.js';
import type { CommitBatch } from '../src/store/engine.js';

export type Counts = Record<string, number>;

/** The binding's calls and the count each one goes up on. */
const CALLS: readonly (readonly [object, string, string])[] = [
  [duck.DuckDBConnection.prototype, 'createAppender', 'appenders created'],
  [duck.DuckDBAppender.prototype, 'closeSync', 'appender closes'],
  [duck.DuckDBAppender.prototype, 'appendDataChunk', 'appender chunks'],
  [duck.DuckDBAppender.prototype, 'flushSync', 'appender flushes'],
  [duck.DuckDBConnection.prototype, 'run', 'SQL runs'],
  [duck.DuckDBPreparedStatement.prototype, 'run', 'prepared runs'],
];

/** Counts each call of `proto[name]` with `count`, then makes it. */
function wrap(proto: object, name: string, count: (args: unknown[]) => void): void {
  const target = proto as Record<string, unknown>;
  const f = target[name] as (...a: unknown[]) => unknown;
  target[name] = function (this: unknown, ...args: unknown[]) {
    count(args);
    return f.apply(this, args);
  };
}

/**
 * Starts counting into `counts`, the keys it holds only (a bench picks its counts, and their order is
 * the order it prints them in): 'commits', 'commit profiles' and 'commit rows' for each
 * DuckDBEngine.commit, and the CALLS above. `afterCommit` runs as each commit ends.
 */
export function countDuckDBCalls(counts: Counts, afterCommit?: () => void): void {
  const has = (key: string) => key in counts;
  const commit = DuckDBEngine.prototype.commit;
  DuckDBEngine.prototype.commit = async function (this: DuckDBEngine, batch: CommitBatch) {
    if (has('commits')) counts.commits!++;
    if (has('commit profiles')) counts['commit profiles']! += batch.profiles.length;
    if (has('commit rows')) for (const p of batch.profiles) counts['commit rows']! += p.stackIds.length;
    await commit.call(this, batch);
    afterCommit?.();
  };
  for (const [proto, method, key] of CALLS) if (has(key)) wrap(proto, method, () => counts[key]!++);
}
