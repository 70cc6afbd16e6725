/**
 * The decode worker's share of a pprof push, on one thread: what `POST /ingest?format=pprof` costs the
 * worker (gunzip, the wire scan, the memo's ids, the packed reply) and the main thread's unpacking of
 * the reply, per profile, for bench/server-ingest.ts's agent-sized pprofs.
 *
 *   npx tsx bench/pprof-decode-worker.ts [profiles=400] [rounds=3]
 *
 * As in the server: a 40-profile warm-up, then every profile once; the stacks of each reply are added
 * to the stored-stack set as the write path would once committed, so a stack's symbols are built only
 * the first time. Prints CPU per profile (process.cpuUsage: this thread, nothing else runs) per round.
 */
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import { decodeAndPack, unpackReply } from '../src/server/decode-transfer.js';
import { StoredStacks } from '../src/store/stored-stacks.js';
import { idWords } from '../src/store/content-ids.js';
import type { DecodeReply } from '../src/server/decode-transfer.js';
import { pprofPayloads, replyStackIds } from './pprof-payloads.js';
import os from 'node:os';

const n = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 3);
const { rows, payloads } = pprofPayloads(n);
const stored = new StoredStacks();

async function one(body: Uint8Array, name: string): Promise<{ decode: number; unpack: number }> {
  const c0 = process.cpuUsage();
  const reply: DecodeReply = await decodeAndPack({ kind: 'format', format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name, storedStacks: { buffer: stored.buffer, id: stored.id } });
  const c1 = process.cpuUsage();
  const decoded = await unpackReply(reply);
  const c2 = process.cpuUsage();
  // Committed: the write path adds the stacks to the set.
  for (const ids of replyStackIds(reply)) {
    const w = idWords(ids);
    for (let i = 0; i < w.length; i += 2) stored.add(w[i]!, w[i + 1]!);
  }
  if (decoded.profiles.length === 0) throw new Error('nothing decoded');
  const us = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => b.user - a.user + (b.system - a.system);
  return { decode: us(c0, c1), unpack: us(c1, c2) };
}

for (let i = 0; i < Math.min(40, n); i++) await one(payloads[i]!, `warmup.cpu{pod=w-${i}}`);
for (let r = 0; r < rounds; r++) {
  let decode = 0;
  let unpack = 0;
  for (let i = 0; i < n; i++) {
    const t = await one(payloads[i]!, `checkout.cpu{pod=r${r}-${i % 4}}`);
    decode += t.decode;
    unpack += t.unpack;
  }
  console.log(`round ${r + 1}: ${n} profiles, ${rows} rows: decode + pack ${(decode / n / 1000).toFixed(3)} ms per profile (${(decode / rows).toFixed(2)} µs/row), unpack ${(unpack / n / 1000).toFixed(3)} ms per profile`);
}
console.log(`load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
