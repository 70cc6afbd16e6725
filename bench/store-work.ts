/**
 * What bench/store-ingest.ts's writes made the store do, in counts the host's load does not move
 * (BENCH_COUNTS=1): DuckDB commits and the profiles and sample rows each held, appenders created,
 * closed and their chunks, statements run (SQL text, prepared), bytes the write-ahead log grew by and
 * the checkpoints that emptied it (the WAL file's size read after each commit: a drop is a checkpoint),
 * and the main thread's GCs and their pauses.
 * Plus every thread's CPU (bench/proc-threads.ts, Linux).
 */
import { statSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import * as duck from '@duckdb/node-api';
import { DuckDBEngine } from '../src/store/duckdb/duckdb-engine.js';
import type { CommitBatch } from '../src/store/engine.js';
import { sampleThreads } from './proc-threads.js';

export type WorkCounts = Record<string, number>;

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
  const wrap = <T extends object>(proto: T, name: keyof T & string, count: (args: unknown[]) => void) => {
    const f = proto[name] as unknown as (...a: unknown[]) => unknown;
    (proto as Record<string, unknown>)[name] = function (this: T, ...args: unknown[]) {
      count(args);
      return f.apply(this, args);
    };
  };
  let wal = walBytes(walFile);
  const commit = DuckDBEngine.prototype.commit;
  DuckDBEngine.prototype.commit = async function (this: DuckDBEngine, batch: CommitBatch) {
    c.commits!++;
    c['commit profiles']! += batch.profiles.length;
    for (const p of batch.profiles) c['commit rows']! += p.stackIds.length;
    await commit.call(this, batch);
    const now = walBytes(walFile);
    if (now < wal) {
      c.checkpoints!++;
      c['WAL bytes']! += now;
    } else c['WAL bytes']! += now - wal;
    wal = now;
  };
  // The binding's calls each count goes up on.
  const calls: [object, string, string][] = [
    [duck.DuckDBConnection.prototype, 'createAppender', 'appenders created'],
    [duck.DuckDBAppender.prototype, 'closeSync', 'appender closes'],
    [duck.DuckDBAppender.prototype, 'appendDataChunk', 'appender chunks'],
    [duck.DuckDBAppender.prototype, 'flushSync', 'appender flushes'],
    [duck.DuckDBConnection.prototype, 'run', 'SQL runs'],
    [duck.DuckDBPreparedStatement.prototype, 'run', 'prepared runs'],
  ];
  for (const [proto, method, count] of calls) wrap(proto, method as never, () => c[count]!++);
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

/** CPU seconds of each thread of this process so far: `main`, the others by name and thread id. */
export function threadCpuSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, t] of sampleThreads(process.pid)) out[tid === process.pid ? 'main' : `${t.comm} ${tid}`] = t.cpuS;
  return out;
}
