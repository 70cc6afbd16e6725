/**
 * Preloaded into a bench's server process (through commit-count-preload.mjs): counts the DuckDB
 * engine's commits and the profiles they held, and appends the totals as a JSON line to the file named
 * by BENCH_COMMIT_COUNT whenever the process is asked for its CPU ('cpu' message, before the server's
 * own handler answers), so a pass's commits are the difference of two lines. A count does not move
 * with the host's load, unlike CPU time. Also for bench/server-ingest.ts:
 * `BENCH_COMMIT_COUNT=file BENCH_SERVER_FLAGS='--import ./bench/commit-count-preload.mjs' npx tsx bench/server-ingest.ts 400 8`.
 */
import { appendFileSync } from 'node:fs';
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
    if (m === 'cpu') appendFileSync(out, `${JSON.stringify(count)}\n`);
  });
}
