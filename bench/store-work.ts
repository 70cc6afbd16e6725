/**
 * What bench/store-ingest.ts's writes made the store do, in counts the host's load does not move
 * (BENCH_COUNTS=1): DuckDB commits and the profiles and sample rows each held, appenders created,
 * closed and their chunks, statements run (SQL text, prepared), bytes the write-ahead log grew by and
 * the checkpoints that emptied it (the WAL file's size read after each commit: a drop is a checkpoint),
 * and the main thread's GCs and their pauses. The DuckDB calls are counted by bench/duckdb-counts.ts.
 */
import { statSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { countDuckDBCalls } from './duckdb-counts.js';
import type { Counts } from './duckdb-counts.js';

export type WorkCounts = Counts;

function walBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // no WAL yet, or just folded into the database file
  }
}

/** Starts counting; the function returned reads the totals so far. `walFile`: the database's WAL. */
export function countStoreWork(walFile: string): () => WorkCounts {
  const c: WorkCounts = {
    commits: 0,
    'commit profiles': 0,
    'commit rows': 0,
    'appenders created': 0,
    'appender closes': 0,
    'appender chunks': 0,
    'appender flushes': 0,
    'SQL runs': 0,
    'prepared runs': 0,
    'WAL bytes': 0,
    checkpoints: 0,
  };
  let wal = walBytes(walFile);
  countDuckDBCalls(c, () => {
    const now = walBytes(walFile);
    if (now < wal) {
      c.checkpoints!++;
      c['WAL bytes']! += now;
    } else c['WAL bytes']! += now - wal;
    wal = now;
  });
  // Every GC of the main thread's heap, and the wall time it paused (PerformanceObserver's 'gc' entries).
  let gcs = 0;
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs++;
      gcMs += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => ({ ...c, GCs: gcs, 'GC ms': Math.round(gcMs) });
}
