/**
 * Load-independent counts of the decode thread's work per agent-sized pprof (`POST /ingest?format=pprof`
 * as the decode worker runs it, bench/pprof-decode-worker.ts's loop): JS heap bytes allocated and
 * garbage collections per profile, for the worker's decode + pack and for the main thread's unpack.
 * Bytes allocated do not move with the host's load, unlike CPU time.
 *
 *   npx tsx bench/pprof-decode-counts.ts [profiles=400] [rounds=2]
 *
 * Allocated = the heap's growth over a round plus what every collection in it freed (v8.GCProfiler).
 * A 40-profile warm-up first; each round decodes every profile once, its stacks then stored as a commit
 * would, so symbols are built only the first time (as in the server past its first pushes).
 */
import os from 'node:os';
import v8 from 'node:v8';
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import { decodeAndPack, unpackReply } from '../src/server/decode-transfer.js';
import type { DecodeReply } from '../src/server/decode-transfer.js';
import { StoredStacks } from '../src/store/stored-stacks.js';
import { idWords } from '../src/store/content-ids.js';
import { pprofPayloads, replyStackIds } from './pprof-payloads.js';

const n = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 2);
const { payloads } = pprofPayloads(n);
const stored = new StoredStacks();

async function decode(body: Uint8Array, name: string): Promise<DecodeReply> {
  const reply = await decodeAndPack({ kind: 'format', format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name, storedStacks: { buffer: stored.buffer, id: stored.id } });
  for (const ids of replyStackIds(reply)) {
    const w = idWords(ids);
    for (let i = 0; i < w.length; i += 2) stored.add(w[i]!, w[i + 1]!);
  }
  return reply;
}

/** JS heap bytes allocated and collections (scavenges, others) while `run` runs. */
async function counted(run: () => Promise<void>): Promise<{ bytes: number; scavenges: number; majors: number }> {
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  await run();
  const after = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let freed = 0;
  let scavenges = 0;
  let majors = 0;
  for (const s of statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep' || s.gcType === 'MinorMarkCompact') scavenges++;
    else majors++;
  }
  return { bytes: after - before + freed, scavenges, majors };
}

for (let i = 0; i < Math.min(40, n); i++) await decode(payloads[i]!, `warmup.cpu{pod=w-${i}}`);
for (let r = 0; r < rounds; r++) {
  const d = await counted(async () => {
    for (let i = 0; i < n; i++) await decode(payloads[i]!, `checkout.cpu{pod=d${r}-${i % 4}}`);
  });
  const replies: DecodeReply[] = [];
  for (let i = 0; i < n; i++) replies.push(await decode(payloads[i]!, `checkout.cpu{pod=u${r}-${i % 4}}`));
  const u = await counted(async () => {
    for (const reply of replies) await unpackReply(reply);
  });
  const kib = (b: number) => (b / n / 1024).toFixed(0);
  console.log(`round ${r + 1}: per profile, decode + pack ${kib(d.bytes)} KiB allocated (${d.scavenges} scavenges, ${d.majors} other GCs per ${n}); unpack ${kib(u.bytes)} KiB (${u.scavenges} scavenges, ${u.majors} other)`);
}
console.log(`load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
