import { sampleThreads } from './proc-threads.js';

/**
 * CPU seconds of each thread of this process so far (/proc/self/task/N/stat via proc-threads.ts, Linux;
 * clock-tick resolution): `main` for the main thread, the others as `label` names them — by default their
 * name and thread id (node 20 names most of its threads "node": the id tells them apart). Used by the
 * ingest benches (bench/server-ingest.ts' server, bench/store-ingest.ts) for a pass's CPU per thread.
 */
export function threadCpuSeconds(label: (tid: number, comm: string) => string = (tid, comm) => `${comm} ${tid}`): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, t] of sampleThreads(process.pid)) {
    const name = tid === process.pid ? 'main' : label(tid, t.comm);
    out[name] = (out[name] ?? 0) + t.cpuS;
  }
  return out;
}
