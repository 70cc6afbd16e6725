/**
 * The decode reply's trip to the main thread (decode-transfer.ts) in this tree and in another checkout
 * of Kiln, in ONE process, in alternating rounds: what the main thread spends per agent-sized pprof
 * push on the reply alone, apart from decoding and from the event loop's wake-ups.
 *
 *   npx tsx bench/pprof-reply-ab.ts <other tree> [rounds=16]
 *
 * Each side packs 100 steady-state replies of bench/server-ingest.ts's pprofs with its own decodeAndPack
 * (after 380 pushes whose stacks it committed, so the replies carry no symbols, as in the server past
 * its first pushes); a round then sends each reply through structuredClone with its buffers moved (the
 * serializing and deserializing a message between threads does) and unpacks it (unpackReply). Prints the
 * median CPU per reply (process.cpuUsage: this thread; nothing else runs) and the ratio.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DecodeReply, decodeAndPack, unpackReply } from '../src/server/decode-transfer.js';
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import type { idWords } from '../src/store/content-ids.js';
import type { StoredStacks } from '../src/store/stored-stacks.js';
import { pprofPayloads, replyStackIds } from './pprof-payloads.js';

const other = process.argv[2];
if (!other) throw new Error('usage: npx tsx bench/pprof-reply-ab.ts <other tree> [rounds]');
const rounds = Number(process.argv[3] ?? 16);
const { payloads } = pprofPayloads(400);

interface Side {
  readonly name: string;
  readonly unpack: typeof unpackReply;
  readonly replies: DecodeReply[];
  readonly perReply: number[];
}

const load = async (tree: string, file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;

async function side(name: string, tree: string): Promise<Side> {
  const transfer = (await load(tree, 'src/server/decode-transfer.ts')) as { decodeAndPack: typeof decodeAndPack; unpackReply: typeof unpackReply };
  const { StoredStacks: Stored } = (await load(tree, 'src/store/stored-stacks.ts')) as { StoredStacks: new () => StoredStacks };
  const { idWords: words } = (await load(tree, 'src/store/content-ids.ts')) as { idWords: typeof idWords };
  const stored = new Stored();
  const replies: DecodeReply[] = [];
  for (let i = 0; i < 480; i++) {
    const reply = await transfer.decodeAndPack({ kind: 'format', format: 'pprof', body: payloads[i % payloads.length]!, limits: DEFAULT_TENANT_LIMITS, name: `checkout.cpu{pod=p${i % 4}}`, storedStacks: { buffer: stored.buffer, id: stored.id } });
    if (!reply.ok) throw new Error(reply.message);
    for (const ids of replyStackIds(reply)) {
      const w = words(ids);
      for (let j = 0; j < w.length; j += 2) stored.add(w[j]!, w[j + 1]!);
    }
    if (i >= 380) replies.push(reply);
  }
  return { name, unpack: transfer.unpackReply, replies, perReply: [] };
}

/** Every ArrayBuffer under a reply (either tree's shape), once each: what its thread moves. */
function buffersOf(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) out.add(value);
  else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) buffersOf(v, out);
  return [...out];
}

const sides = [await side('this tree', '.'), await side(other, other)];
for (let r = 0; r < rounds; r++) {
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    // Copies to move (a move empties what it moves), made outside the measured part.
    const copies = s.replies.map((x) => structuredClone(x));
    const c0 = process.cpuUsage();
    for (const c of copies) await s.unpack(structuredClone(c, { transfer: buffersOf(c) }));
    const c1 = process.cpuUsage();
    s.perReply.push((c1.user - c0.user + (c1.system - c0.system)) / copies.length);
  }
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const s of sides) console.log(`${s.name}: ${median(s.perReply).toFixed(1)} µs per reply (median of ${rounds} rounds, ${Math.min(...s.perReply).toFixed(1)}–${Math.max(...s.perReply).toFixed(1)})`);
const ratios = sides[0]!.perReply.map((v, i) => v / sides[1]!.perReply[i]!);
console.log(`this tree / other: ${(median(sides[0]!.perReply) / median(sides[1]!.perReply)).toFixed(2)} (lower in ${ratios.filter((x) => x < 1).length} of ${rounds} rounds); load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
