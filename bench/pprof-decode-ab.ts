/**
 * The decode thread's reduction of a pprof (decodePprofForStore: gunzip, the wire scan, the memo's ids,
 * the rows) in this tree and in another checkout of Kiln, in ONE process, in alternating rounds: the
 * host's load moves both sides alike, where two processes run minutes apart do not (the benches
 * through the server spread ±10–15 % per run on a busy host).
 *
 *   npx tsx bench/pprof-decode-ab.ts <other tree> [rounds=24] [profiles per round=50]
 *
 * Each side loads its own modules (its own memo across requests, as a decode thread has) and its own
 * stored-stack set: after a warm-up over the first 80 profiles, every round decodes the next
 * `profiles per round` of bench/server-ingest.ts's 400 agent-sized pprofs on each side, the order of
 * the two sides swapped every round, and the stacks of each reply are added to that side's set as a
 * commit would. Prints the median CPU per profile (process.cpuUsage: this thread; nothing else runs) and the ratio.
 *
 * BENCH_AB=task compares the decode thread's whole task instead, as the pool runs it: decodeAndPack
 * (decode-transfer.ts) of a `POST /ingest?format=pprof` body — inflating, decodePprofForStore, the packed reply.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import type { Profile } from '../src/model/index.js';
import { decodePprofForStore } from '../src/server/pprof-ingest.js';
import { decodeAndPack } from '../src/server/decode-transfer.js';
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import { ContentIds, idWords } from '../src/store/content-ids.js';
import { StoredStacks } from '../src/store/stored-stacks.js';
import { pprofPayloads, replyStackIds } from './pprof-payloads.js';

const other = process.argv[2];
if (!other) throw new Error('usage: npx tsx bench/pprof-decode-ab.ts <other tree> [rounds] [profiles per round]');
const rounds = Number(process.argv[3] ?? 24);
const perRound = Number(process.argv[4] ?? 50);
const { payloads } = pprofPayloads(400);

const task = process.env.BENCH_AB === 'task';

type Decode = typeof decodePprofForStore;
type Pack = typeof decodeAndPack;
interface Side {
  readonly name: string;
  readonly decode: Decode;
  readonly pack: Pack;
  readonly idWords: typeof idWords;
  readonly stored: StoredStacks;
  readonly ids: ContentIds;
  readonly perProfile: number[];
}
const load = async (tree: string, file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;
const side = async (name: string, tree: string): Promise<Side> => {
  const { StoredStacks: Stored } = (await load(tree, 'src/store/stored-stacks.ts')) as { StoredStacks: typeof StoredStacks };
  const { ContentIds: Ids, idWords: words } = (await load(tree, 'src/store/content-ids.ts')) as { ContentIds: typeof ContentIds; idWords: typeof idWords };
  const { decodePprofForStore: decode } = (await load(tree, 'src/server/pprof-ingest.ts')) as { decodePprofForStore: Decode };
  const { decodeAndPack: pack } = (await load(tree, 'src/server/decode-transfer.ts')) as { decodeAndPack: Pack };
  return { name, decode, pack, idWords: words, stored: new Stored(), ids: new Ids(), perProfile: [] };
};
const sides: Side[] = [await side('this tree', '.'), await side(other, other)];

/** CPU µs per profile over payloads [from, to) on one side. */
async function run(s: Side, from: number, to: number): Promise<number> {
  if (task) return runTask(s, from, to);
  let us = 0;
  for (let i = from; i < to; i++) {
    const c0 = process.cpuUsage();
    const profiles: Profile[] = s.decode(payloads[i % payloads.length]!, {}, s.stored);
    const c1 = process.cpuUsage();
    us += c1.user - c0.user + (c1.system - c0.system);
    // Committed: the stacks are stored, so later pushes of them build no symbols (as in the server).
    const w = s.ids.forWrite(profiles[0]!.dict).stackWords;
    for (let j = 0; j < w.length; j += 2) s.stored.add(w[j]!, w[j + 1]!);
  }
  return us / (to - from);
}

/** The same for BENCH_AB=task: the pool's task of each body, its stacks committed from the packed reply. */
async function runTask(s: Side, from: number, to: number): Promise<number> {
  let us = 0;
  for (let i = from; i < to; i++) {
    const body = payloads[i % payloads.length]!;
    const c0 = process.cpuUsage();
    const reply = await s.pack({ kind: 'format', format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name: `checkout.cpu{pod=p${i % 4}}`, storedStacks: { buffer: s.stored.buffer, id: s.stored.id } });
    const c1 = process.cpuUsage();
    us += c1.user - c0.user + (c1.system - c0.system);
    if (!reply.ok) throw new Error(reply.message);
    for (const ids of replyStackIds(reply)) {
      const w = s.idWords(ids);
      for (let j = 0; j < w.length; j += 2) s.stored.add(w[j]!, w[j + 1]!);
    }
  }
  return us / (to - from);
}

for (const s of sides) await run(s, 0, 80);
for (let r = 0; r < rounds; r++) {
  const from = 80 + r * perRound;
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) s.perProfile.push(await run(s, from, from + perRound));
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const s of sides) {
  console.log(`${s.name}: ${median(s.perProfile).toFixed(0)} µs per profile (median of ${rounds} rounds, ${Math.min(...s.perProfile).toFixed(0)}–${Math.max(...s.perProfile).toFixed(0)})`);
}
const ratios = sides[0]!.perProfile.map((v, i) => v / sides[1]!.perProfile[i]!);
console.log(`this tree / other: ${(median(sides[0]!.perProfile) / median(sides[1]!.perProfile)).toFixed(2)} (per-round ratios ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, lower in ${ratios.filter((x) => x < 1).length} of ${rounds}); load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
