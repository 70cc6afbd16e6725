/**
 * Instructions of the decode thread's task per pprof, counted by valgrind's callgrind rather than timed,
 * so two trees compare on a host whose load moves every timing (and that has no hardware counters).
 *
 *   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=<scratch file> \
 *     node --import tsx bench/pprof-decode-instructions.ts <tree> <profiles counted> [unpack]
 *
 * Loads `<tree>`'s decode-transfer.ts (its own memo and stored-stack set) and runs the pool's task for
 * each of bench/server-ingest.ts's agent-sized pprofs as the decode thread does — a warm-up over the first
 * 80 profiles, then `profiles counted` more — committing each reply's stacks as the write path would.
 * With `unpack`, the main thread's `unpackReply` of each reply runs too; with `unpack-only`, the replies of the
 * counted profiles are packed first and only their unpacking is counted (its warm-up: the first 80 unpacked).
 * Instrumentation is switched on
 * (`callgrind_control -i on` on this process) only after the warm-up, so callgrind's "Collected" divided
 * by the profiles counted is the instructions per profile, start-up, module loading and warm-up left out.
 * valgrind is not part of CI; the count includes the JIT's compiling, which moves a little between runs.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { decodeAndPack, unpackReply } from '../src/server/decode-transfer.js';
import { DEFAULT_TENANT_LIMITS } from '../src/server/limits.js';
import type { StoredStacks } from '../src/store/stored-stacks.js';
import type { idWords } from '../src/store/content-ids.js';
import { pprofPayloads, replyStackIds } from './pprof-payloads.js';

const tree = process.argv[2];
const counted = Number(process.argv[3] ?? 0);
const unpack = process.argv[4] === 'unpack' || process.argv[4] === 'unpack-only';
// unpack-only: every reply is packed first (not counted), then only their unpacking is counted.
const unpackOnly = process.argv[4] === 'unpack-only';
if (!tree || !Number.isInteger(counted)) throw new Error('usage: bench/pprof-decode-instructions.ts <tree> <profiles counted> [unpack]');
const WARM_UP = 80;
const { payloads } = pprofPayloads(400);

const load = async (file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;
const { StoredStacks: Stored } = (await load('src/store/stored-stacks.ts')) as { StoredStacks: typeof StoredStacks };
const { idWords: words } = (await load('src/store/content-ids.ts')) as { idWords: typeof idWords };
const transfer = (await load('src/server/decode-transfer.ts')) as { decodeAndPack: typeof decodeAndPack; unpackReply: typeof unpackReply };
const stored = new Stored();

const packed: Awaited<ReturnType<typeof decodeAndPack>>[] = [];
for (let i = 0; i < WARM_UP + counted; i++) {
  if (i === WARM_UP && !unpackOnly) execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
  const body = payloads[i % payloads.length]!;
  const reply = await transfer.decodeAndPack({ kind: 'format', format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name: `checkout.cpu{pod=p${i % 4}}`, storedStacks: { buffer: stored.buffer, id: stored.id } });
  if (!reply.ok) throw new Error(reply.message);
  if (unpackOnly && i >= WARM_UP) packed.push(structuredClone(reply));
  else if (unpack) await transfer.unpackReply(reply);
  for (const ids of replyStackIds(reply)) {
    const w = words(ids);
    for (let j = 0; j < w.length; j += 2) stored.add(w[j]!, w[j + 1]!);
  }
}
if (unpackOnly) {
  execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
  for (const reply of packed) await transfer.unpackReply(reply);
  execFileSync('callgrind_control', ['-i', 'off', String(process.pid)], { stdio: 'ignore' });
}
console.log(`${tree}: ${WARM_UP} warm-up + ${counted} counted profiles${unpackOnly ? ', only their unpacking counted' : unpack ? ', unpacked' : ''}`);
