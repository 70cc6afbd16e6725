// Loads bench/commit-count.ts in a bench's server process, after `--import tsx`; not in its decode
// worker threads, which inherit the process's --import flags but register tsx only in their own entry.
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.BENCH_COMMIT_COUNT) await import('./commit-count.ts');
