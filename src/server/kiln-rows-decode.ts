import type { DecodeBudget } from '../formats/decode-limits.js';
import { readRows, type RowsMessage } from '../formats/kiln-rows-read.js';
import { InputError } from '../model/errors.js';
import type { Id } from '../model/ids.js';
import { dictionaryIds, type DictionaryIds } from '../model/ids.js';
import type { Profile } from '../model/profile.js';
import type { Stack, SymbolDictionary } from '../model/symbols.js';
import { attachPrecomputedIds } from '../store/content-ids.js';
import { IdKeyTable } from '../store/id-key-table.js';
import { STORED_STACK, type StoredStacks } from '../store/stored-stacks.js';
import type { TenantLimits } from './limits.js';
import { decodeBudget, inflateBody } from './limits.js';

/**
 * A Kiln rows request (formats/kiln-rows.ts) decoded for the store: on the event loop when it is small
 * and carries no symbols (a steady push: reading it costs less than handing it to a worker), else on the
 * decode pool (decode-tasks.ts), as every other protocol's payloads are.
 */
export async function decodeKilnRows(body: Uint8Array, gzipped: boolean, limits: TenantLimits, stored: StoredStacks | undefined): Promise<ResolvedRows> {
  const raw = gzipped ? await inflateBody(body, limits.maxDecompressedBytes) : body;
  const budget = decodeBudget(limits);
  return resolveRows(readRows(raw, budget), stored, budget);
}

/** The request's profiles over one dictionary, or the stack ids it names that are neither sent nor stored. */
export interface ResolvedRows {
  readonly profiles: Profile[];
  readonly missing: Id[];
}

/**
 * A rows request → model profiles. The symbols sent become one dictionary whose ids are recomputed
 * from content and must equal the ids sent; a row's stack is one of those, or one `stored` knows
 * (left as STORED_STACK: its symbols are in the store), or missing. Ids travel with the dictionary
 * (attachPrecomputedIds), so the write path neither hashes nor reads the stored stacks.
 */
export function resolveRows(msg: RowsMessage, stored: StoredStacks | undefined, budget: DecodeBudget): ResolvedRows {
  const sent: SymbolDictionary = { mappings: [], functions: [], locations: [], stacks: [] };
  const index = (ids: readonly Id[], what: string): Map<Id, number> => {
    const m = new Map<Id, number>();
    ids.forEach((id, i) => m.set(id, i));
    if (m.size !== ids.length) throw new InputError(`a Kiln rows request sends a ${what} id twice`);
    return m;
  };
  const mappingAt = index(msg.mappings.map((m) => m.id), 'mapping');
  const functionAt = index(msg.functions.map((f) => f.id), 'function');
  const locationAt = index(msg.locations.map((l) => l.id), 'location');
  const find = (m: Map<Id, number>, id: Id, what: string): number => {
    const i = m.get(id);
    if (i === undefined) throw new InputError(`a Kiln rows request names ${what} ${id.toString(16)} without sending it`);
    return i;
  };
  for (const m of msg.mappings) sent.mappings.push({ binary: m.binary, buildId: m.buildId });
  for (const f of msg.functions) sent.functions.push({ name: f.name, systemName: f.systemName, file: f.file });
  for (const l of msg.locations) {
    sent.locations.push({
      mapping: l.mappingId === 0n ? -1 : find(mappingAt, l.mappingId, 'mapping'),
      address: l.address,
      lines: l.lines.map((ln) => ({ function: find(functionAt, ln.functionId, 'function'), line: ln.line })),
    });
  }
  for (const s of msg.stacks) sent.stacks.push(s.locationIds.map((id) => find(locationAt, id, 'location')));
  // Content is identity: what was sent must hash to the ids it came under.
  const ids = dictionaryIds(sent);
  const sameIds = (got: readonly Id[], sent: readonly { id: Id }[], what: string) => {
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== sent[i]!.id) throw new InputError(`a Kiln rows request sends ${what} ${sent[i]!.id.toString(16)} whose content has id ${got[i]!.toString(16)}`);
    }
  };
  sameIds(ids.mappings, msg.mappings, 'mapping');
  sameIds(ids.functions, msg.functions, 'function');
  sameIds(ids.locations, msg.locations, 'location');
  sameIds(ids.stacks, msg.stacks, 'stack');

  // Stack ids as u32 words (no bigint per row): the carried stacks' first, then one entry per row of a
  // stored stack. A stack named by several rows gets several entries; the write path sums rows by id.
  const carried = new IdKeyTable();
  ids.stacks.forEach((id, i) => carried.setId(id, i));
  const { dict, ids: kept } = stored === undefined ? { dict: sent, ids } : withoutStoredStacks(sent, ids, stored);
  let rowCount = 0;
  for (const s of msg.series) rowCount += s.values.length;
  const stackWords = new Uint32Array(2 * (ids.stacks.length + rowCount));
  new BigUint64Array(stackWords.buffer, 0, ids.stacks.length).set(ids.stacks);
  const missing = new IdKeyTable();
  const missingIds: Id[] = [];
  const profiles: Profile[] = [];
  for (const s of msg.series) {
    const w = s.stackWords;
    const stacks = new Array<number>(s.values.length);
    for (let i = 0; i < s.values.length; i++) {
      const lo = w[2 * i]!;
      const hi = w[2 * i + 1]!;
      let at = carried.size > 0 ? carried.get(lo, hi) : -1;
      if (at < 0) {
        if (stored?.has(lo, hi)) {
          at = dict.stacks.push(STORED_STACK as Stack) - 1;
          stackWords[2 * at] = lo;
          stackWords[2 * at + 1] = hi;
        } else if (missing.get(lo, hi) < 0) {
          missing.set(lo, hi, missingIds.length);
          missingIds.push((BigInt(hi) << 32n) | BigInt(lo));
        }
      }
      stacks[i] = at;
    }
    profiles.push({ type: s.type, labels: s.labels, timeMs: s.timeMs, durationNs: s.durationNs, period: s.period, dict, stacks, values: s.values });
  }
  // Stacks sent with their frames weigh in memory; a stored stack is one more row, counted as a sample.
  budget.tableStacks(ids.stacks.length);
  if (missingIds.length > 0) return { profiles: [], missing: missingIds };
  const stackIds = new BigUint64Array(stackWords.buffer, 0, dict.stacks.length);
  attachPrecomputedIds(dict, { mappings: u64s(kept.mappings), functions: u64s(kept.functions), locations: u64s(kept.locations), stacks: stackIds });
  return { profiles, missing: [] };
}

/**
 * `dict` without the frames of the carried stacks `stored` already holds (each becomes
 * STORED_STACK, as a row naming a stored stack without its symbols does) and the locations, functions
 * and mappings that only those stacks needed, with the ids of what is left, index-aligned. Its stacks
 * array is `dict`'s, changed in place.
 *
 * Agents of one service send the same stacks: each agent sends a stack's symbols once, so most of the
 * symbols a server takes during agents' first pushes are of stacks another agent's push has stored
 * already. Their ids were checked above (a forged symbol is refused all the same); past this point
 * nobody would store them, and each costs the main thread its copy, its validation and its lookups.
 */
function withoutStoredStacks(dict: SymbolDictionary, ids: DictionaryIds, stored: StoredStacks): { dict: SymbolDictionary; ids: DictionaryIds } {
  const words = new Uint32Array(new BigUint64Array(ids.stacks).buffer);
  let storedCount = 0;
  for (let i = 0; i < ids.stacks.length; i++) {
    if (!stored.has(words[2 * i]!, words[2 * i + 1]!)) continue;
    dict.stacks[i] = STORED_STACK;
    storedCount++;
  }
  if (storedCount === 0) return { dict, ids };
  // Renumber what the remaining stacks reach: -1 = not needed.
  const renumber = (n: number) => new Int32Array(n).fill(-1);
  const locAt = renumber(dict.locations.length);
  const fnAt = renumber(dict.functions.length);
  const mapAt = renumber(dict.mappings.length);
  const out: SymbolDictionary = { mappings: [], functions: [], locations: [], stacks: dict.stacks };
  const outIds: DictionaryIds = { mappings: [], functions: [], locations: [], stacks: ids.stacks };
  const keep = <T>(at: Int32Array, i: number, from: readonly T[], to: T[], fromIds: readonly Id[], toIds: Id[], copy: (v: T) => T): number => {
    if (at[i]! < 0) {
      at[i] = to.push(copy(from[i]!)) - 1;
      toIds.push(fromIds[i]!);
    }
    return at[i]!;
  };
  for (let s = 0; s < dict.stacks.length; s++) {
    const frames = dict.stacks[s]!;
    if (frames === STORED_STACK) continue;
    dict.stacks[s] = frames.map((l) =>
      keep(locAt, l, dict.locations, out.locations, ids.locations, outIds.locations, (loc) => ({
        mapping: loc.mapping < 0 ? -1 : keep(mapAt, loc.mapping, dict.mappings, out.mappings, ids.mappings, outIds.mappings, (m) => m),
        address: loc.address,
        lines: loc.lines.map((ln) => ({ function: keep(fnAt, ln.function, dict.functions, out.functions, ids.functions, outIds.functions, (f) => f), line: ln.line })),
      })),
    );
  }
  return { dict: out, ids: outIds };
}

/** A stack id as the 409 answer lists it: 16 hex digits. */
export function hexId(id: Id): string {
  return id.toString(16).padStart(16, '0');
}

function u64s(ids: readonly Id[]): BigUint64Array {
  const out = new BigUint64Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
  return out;
}
