/**
 * Preloaded into a bench's server process (through commit-count-preload.mjs): counts the DuckDB
 * engine's commits and the profiles they held, and the bytes of ingest bodies posted to decode threads
 * (copied, or moved: a transferred buffer), and appends the totals as a JSON line to the file named
 * by BENCH_COMMIT_COUNT whenever the process is asked for its CPU ('cpu' message, before the server's
 * own handler answers), so a pass's commits are the difference of two lines. A count does not move
 * with the host's load, unlike CPU time; nor do the main thread's JS heap bytes allocated and its
 * collections, also counted (v8.GCProfiler: the heap's growth plus what each collection freed). Also for bench/server-ingest.ts:
 * `BENCH_COMMIT_COUNT=file BENCH_SERVER_FLAGS='--import ./bench/commit-count-preload.mjs' npx tsx bench/server-ingest.ts 400 8`.
 */
import { appendFileSync } from 'node:fs';
import v8 from 'node:v8';
import { MessagePort, type Transferable as WorkerTransferable } from 'node:worker_threads';
import type { DecodeTask } from '../src/server/decode-tasks.js';
import { DuckDBEngine } from '../src/store/duckdb/duckdb-engine.js';
import type { CommitBatch } from '../src/store/engine.js';

export interface CommitCount {
  commits: number;
  profiles: number;
  /** Bytes of the buffers holding ingest bodies posted to decode threads: copied, moved. */
  copied: number;
  moved: number;
  /** The main thread's JS heap bytes allocated, and its collections (scavenges, others). */
  allocated: number;
  scavenges: number;
  majorGCs: number;
}

const out = process.env.BENCH_COMMIT_COUNT;
if (out) {
  const count: CommitCount = { commits: 0, profiles: 0, copied: 0, moved: 0, allocated: 0, scavenges: 0, majorGCs: 0 };
  // The profiler's records are read (and it is restarted) at each reading: allocated = growth + freed.
  let gc = new v8.GCProfiler();
  let heapBefore = v8.getHeapStatistics().used_heap_size;
  gc.start();
  const readHeap = () => {
    const heapNow = v8.getHeapStatistics().used_heap_size;
    for (const s of gc.stop()?.statistics ?? []) {
      count.allocated += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
      if (s.gcType === 'Scavenge' || s.gcType.startsWith('Minor')) count.scavenges++;
      else count.majorGCs++;
    }
    count.allocated += heapNow - heapBefore;
    heapBefore = heapNow;
    gc = new v8.GCProfiler();
    gc.start();
  };
  const commit = DuckDBEngine.prototype.commit;
  DuckDBEngine.prototype.commit = function (this: DuckDBEngine, batch: CommitBatch) {
    count.commits++;
    count.profiles += batch.profiles.length;
    return commit.call(this, batch);
  };
  // Piscina posts each task on a MessagePort: { task, taskId, … } and the transfer list.
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (this: MessagePort, value: unknown, transfer?: unknown) {
    const task = (value as { task?: DecodeTask } | null)?.task;
    if (task !== null && typeof task === 'object' && 'kind' in task) {
      const list = (Array.isArray(transfer) ? transfer : ((transfer as { transfer?: unknown[] } | undefined)?.transfer ?? [])) as unknown[];
      const buffers = new Set<ArrayBufferLike>();
      if (task.kind === 'pprof-series') for (const s of task.series) for (const raw of s.rawProfiles) buffers.add(raw.buffer);
      else if (task.kind === 'jfr') buffers.add(task.jfr.buffer);
      else for (const part of task.body instanceof Uint8Array ? [task.body] : task.body) buffers.add(part.buffer);
      for (const b of buffers) {
        if (list.includes(b)) count.moved += b.byteLength;
        else count.copied += b.byteLength;
      }
    }
    return post.call(this, value, transfer as readonly WorkerTransferable[]);
  };
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    readHeap();
    appendFileSync(out, `${JSON.stringify(count)}\n`);
  });
}
