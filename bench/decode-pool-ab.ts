/**
 * The decode pool's hand-off (decode-pool.ts) in this tree and in another checkout of Kiln, in ONE
 * process, in alternating rounds, so the host's load moves both sides alike:
 *
 *   npx tsx bench/decode-pool-ab.ts <other tree> [rounds=12] [tasks per round=100] [in flight=8]
 *
 * Each side has its own pool of one decode thread (as the server has on two cores) and its own stored-
 * stack set; every task is what `POST /ingest?format=pprof` hands the pool for one of bench/server-
 * ingest.ts's agent-sized gzipped pprofs (its body moved, not copied), `in flight` at once. After a warm-
 * up of 80 tasks per side, the stacks of every reply are added to that side's set between rounds, as
 * the store's commits would, so replies carry no symbols for known stacks (the server's steady state).
 * Prints, per task and median over the rounds: the main thread's CPU (the hand-off and the reply's
 * unpacking: the scheduler's count of the thread's time on a CPU, in ns), and the whole process's CPU (the
 * decode thread included). Nothing else runs in the process.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { createDecodePool } from '../src/server/decode-pool.js';
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import type { ContentIds } from '../src/store/content-ids.js';
import type { StoredStacks } from '../src/store/stored-stacks.js';
import type { SymbolDictionary } from '../src/model/index.js';
import { pprofPayloads } from './pprof-payloads.js';

const other = process.argv[2];
if (!other) throw new Error('usage: npx tsx bench/decode-pool-ab.ts <other tree> [rounds] [tasks per round] [in flight]');
const rounds = Number(process.argv[3] ?? 12);
const perRound = Number(process.argv[4] ?? 100);
const inFlight = Number(process.argv[5] ?? 8);
const { payloads } = pprofPayloads(400);

interface Side {
  readonly name: string;
  readonly pool: ReturnType<typeof createDecodePool>;
  readonly stored: StoredStacks;
  readonly ids: ContentIds;
  readonly mainUs: number[];
  readonly processUs: number[];
}
const load = async (tree: string, file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;
const side = async (name: string, tree: string): Promise<Side> => {
  const { createDecodePool: create } = (await load(tree, 'src/server/decode-pool.ts')) as { createDecodePool: typeof createDecodePool };
  const { StoredStacks: Stored } = (await load(tree, 'src/store/stored-stacks.ts')) as { StoredStacks: new () => StoredStacks };
  const { ContentIds: Ids } = (await load(tree, 'src/store/content-ids.ts')) as { ContentIds: new () => ContentIds };
  return { name, pool: create({ threads: 1, maxQueue: 1024 }), stored: new Stored(), ids: new Ids(), mainUs: [], processUs: [] };
};
const sides: Side[] = [await side('this tree', '.'), await side(other, other)];

/** This thread's time on a CPU so far, ns (Linux: the first field of /proc/thread-self/schedstat). */
const mainThreadCpuNs = (): number => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);

/** Tasks [from, to) on one side, `inFlight` at once; its CPU per task (main thread, whole process) in µs. */
async function run(s: Side, from: number, to: number): Promise<{ main: number; all: number }> {
  const dicts: SymbolDictionary[] = [];
  let next = from;
  const main0 = mainThreadCpuNs();
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < to) {
        const i = next++;
        // A body alone in its buffer, as fastify hands it over (moved to the decode thread).
        const body = new Uint8Array(payloads[i % payloads.length]!);
        const { profiles } = await s.pool.decode({
          kind: 'format',
          format: 'pprof',
          body,
          limits: DEFAULT_TENANT_LIMITS,
          name: 'checkout.cpu',
          labels: [{ name: 'pod', value: `p${i % 4}` }],
          timeMs: Date.now(),
          handOverBody: true,
          storedStacks: { buffer: s.stored.buffer, id: s.stored.id },
        });
        dicts.push(profiles[0]!.dict);
      }
    }),
  );
  const c1 = process.cpuUsage();
  const main = (mainThreadCpuNs() - main0) / 1000;
  // Committed: their stacks are stored (outside the measured window).
  for (const d of dicts) {
    const w = s.ids.forWrite(d).stackWords;
    for (let j = 0; j < w.length; j += 2) s.stored.add(w[j]!, w[j + 1]!);
  }
  return { main: main / (to - from), all: (c1.user - c0.user + (c1.system - c0.system)) / (to - from) };
}

for (const s of sides) await run(s, 0, 80);
for (let r = 0; r < rounds; r++) {
  const from = 80 + r * perRound;
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    const { main, all } = await run(s, from, from + perRound);
    s.mainUs.push(main);
    s.processUs.push(all);
  }
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const s of sides) {
  console.log(`${s.name}: main thread ${median(s.mainUs).toFixed(0)} µs per task (${Math.min(...s.mainUs).toFixed(0)}–${Math.max(...s.mainUs).toFixed(0)}), process ${median(s.processUs).toFixed(0)} µs (${Math.min(...s.processUs).toFixed(0)}–${Math.max(...s.processUs).toFixed(0)}), median of ${rounds} rounds`);
}
for (const [what, a, b] of [['main thread', sides[0]!.mainUs, sides[1]!.mainUs], ['process', sides[0]!.processUs, sides[1]!.processUs]] as const) {
  const ratios = a.map((v, i) => v / b[i]!);
  console.log(`${what}, this tree / other: ${(median(a) / median(b)).toFixed(2)} (lower in ${ratios.filter((x) => x < 1).length} of ${rounds} rounds)`);
}
console.log(`load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const s of sides) await s.pool.close();
