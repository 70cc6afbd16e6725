/**
 * Preloaded into a bench's server process (`--import ./bench/commit-count.ts`): counts the DuckDB
 * engine's commits and the profiles they held, and writes the totals to the file named by
 * BENCH_COMMIT_COUNT whenever the process is asked for its CPU ('cpu' message, before the server's own
 * handler answers), so a pass's commits are the difference of two readings. A count does not move
 * with the host's load, unlike CPU time.
 */
import { writeFileSync } from 'node:fs';
import { DuckDBEngine } from '../src/store/duckdb/duckdb-engine.js';
import type { CommitBatch } from '../src/store/engine.js';

export interface CommitCount {
  commits: number;
  profiles: number;
}

const out = process.env.BENCH_COMMIT_COUNT;
if (out) {
  const count: CommitCount = { commits: 0, profiles: 0 };
  const commit = DuckDBEngine.prototype.commit;
  DuckDBEngine.prototype.commit = function (this: DuckDBEngine, batch: CommitBatch) {
    count.commits++;
    count.profiles += batch.profiles.length;
    return commit.call(this, batch);
  };
  process.on('message', (m) => {
    if (m === 'cpu') writeFileSync(out, JSON.stringify(count));
  });
}
