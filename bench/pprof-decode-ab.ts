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
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import type { Profile } from '../src/model/index.js';
import { decodePprofForStore } from '../src/server/pprof-ingest.js';
import { ContentIds } from '../src/store/content-ids.js';
import { StoredStacks } from '../src/store/stored-stacks.js';
import { pprofPayloads } from './pprof-payloads.js';

const other = process.argv[2];
if (!other) throw new Error('usage: npx tsx bench/pprof-decode-ab.ts <other tree> [rounds] [profiles per round]');
const rounds = Number(process.argv[3] ?? 24);
const perRound = Number(process.argv[4] ?? 50);
const { payloads } = pprofPayloads(400);

type Decode = typeof decodePprofForStore;
interface Side {
  readonly name: string;
  readonly decode: Decode;
  readonly stored: StoredStacks;
  readonly ids: ContentIds;
  readonly perProfile: number[];
}
const load = async (tree: string, file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;
const side = async (name: string, decode: Decode, tree: string): Promise<Side> => {
  const { StoredStacks: Stored } = (await load(tree, 'src/store/stored-stacks.ts')) as { StoredStacks: typeof StoredStacks };
  const { ContentIds: Ids } = (await load(tree, 'src/store/content-ids.ts')) as { ContentIds: typeof ContentIds };
  return { name, decode, stored: new Stored(), ids: new Ids(), perProfile: [] };
};
const sides: Side[] = [
  await side('this tree', decodePprofForStore, '.'),
  await side(other, ((await load(other, 'src/server/pprof-ingest.ts')) as { decodePprofForStore: Decode }).decodePprofForStore, other),
];

/** CPU µs per profile over payloads [from, to) on one side. */
function run(s: Side, from: number, to: number): number {
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

for (const s of sides) run(s, 0, 80);
for (let r = 0; r < rounds; r++) {
  const from = 80 + r * perRound;
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) s.perProfile.push(run(s, from, from + perRound));
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const s of sides) {
  console.log(`${s.name}: ${median(s.perProfile).toFixed(0)} µs per profile (median of ${rounds} rounds, ${Math.min(...s.perProfile).toFixed(0)}–${Math.max(...s.perProfile).toFixed(0)})`);
}
const ratios = sides[0]!.perProfile.map((v, i) => v / sides[1]!.perProfile[i]!);
console.log(`this tree / other: ${(median(sides[0]!.perProfile) / median(sides[1]!.perProfile)).toFixed(2)} (per-round ratios ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, lower in ${ratios.filter((x) => x < 1).length} of ${rounds}); load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
