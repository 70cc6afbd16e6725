import type { DecodeBudget } from '../formats/decode-limits.js';
import { readRows, type RowsMessage, type RowsStack } from '../formats/kiln-rows-read.js';
import { InputError } from '../model/errors.js';
import type { Id } from '../model/ids.js';
import { dictionaryIds } from '../model/ids.js';
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
  return resolveRows(readRows(raw, budget, stored && ((lo, hi) => stored.has(lo, hi))), stored, budget);
}

/** The request's profiles over one dictionary, or the stack ids it names that are neither sent nor stored. */
export interface ResolvedRows {
  readonly profiles: Profile[];
  readonly missing: Id[];
}

/**
 * A rows request → model profiles. The symbols read become one dictionary whose ids are recomputed
 * from content and must equal the ids sent. A stack the reader found held (readRows' `held`: the store
 * has it, so its symbols were not even read) stays STORED_STACK under the id sent, as a row that names a
 * stored stack without sending it does; a row's stack is a sent one, one `stored` knows, or missing.
 * Ids travel with the dictionary (attachPrecomputedIds), so the write path neither hashes nor reads the
 * stored stacks.
 */
export function resolveRows(msg: RowsMessage, stored: StoredStacks | undefined, budget: DecodeBudget): ResolvedRows {
  const dict: SymbolDictionary = { mappings: [], functions: [], locations: [], stacks: [] };
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
  for (const m of msg.mappings) dict.mappings.push({ binary: m.binary, buildId: m.buildId });
  for (const f of msg.functions) dict.functions.push({ name: f.name, systemName: f.systemName, file: f.file });
  for (const l of msg.locations) {
    dict.locations.push({
      mapping: l.mappingId === 0n ? -1 : find(mappingAt, l.mappingId, 'mapping'),
      address: l.address,
      lines: l.lines.map((ln) => ({ function: find(functionAt, ln.functionId, 'function'), line: ln.line })),
    });
  }
  const framed: Stack[] = [];
  const framedSent: RowsStack[] = [];
  for (const s of msg.stacks) {
    if (s.held) {
      dict.stacks.push(STORED_STACK);
      continue;
    }
    const frames = s.locationIds.map((id) => find(locationAt, id, 'location'));
    dict.stacks.push(frames);
    framed.push(frames);
    framedSent.push(s);
  }
  // Content is identity: what was sent must hash to the ids it came under (a held stack's id is the store's).
  const ids = dictionaryIds({ ...dict, stacks: framed });
  const sameIds = (got: readonly Id[], sent: readonly { id: Id }[], what: string) => {
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== sent[i]!.id) throw new InputError(`a Kiln rows request sends ${what} ${sent[i]!.id.toString(16)} whose content has id ${got[i]!.toString(16)}`);
    }
  };
  sameIds(ids.mappings, msg.mappings, 'mapping');
  sameIds(ids.functions, msg.functions, 'function');
  sameIds(ids.locations, msg.locations, 'location');
  sameIds(ids.stacks, framedSent, 'stack');

  // Stack ids as u32 words (no bigint per row): the sent stacks' first, then one entry per row of a
  // stored stack. A stack named by several rows gets several entries; the write path sums rows by id.
  // The hash tables are made only when needed: a steady push sends no stack and names none missing, and
  // two empty tables were 24 KiB of typed arrays (and their fill) per request.
  const sentCount = msg.stacks.length;
  const carried = sentCount > 0 ? new IdKeyTable() : undefined;
  if (carried) msg.stacks.forEach((s, i) => carried.setId(s.id, i));
  let rowCount = 0;
  for (const s of msg.series) rowCount += s.values.length;
  const stackWords = new Uint32Array(2 * (sentCount + rowCount));
  const sentIds = new BigUint64Array(stackWords.buffer, 0, sentCount);
  msg.stacks.forEach((s, i) => (sentIds[i] = s.id));
  let missing: IdKeyTable | undefined;
  const missingIds: Id[] = [];
  const profiles: Profile[] = [];
  for (const s of msg.series) {
    const w = s.stackWords;
    const stacks = new Array<number>(s.values.length);
    for (let i = 0; i < s.values.length; i++) {
      const lo = w[2 * i]!;
      const hi = w[2 * i + 1]!;
      let at = carried ? carried.get(lo, hi) : -1;
      if (at < 0) {
        if (stored?.has(lo, hi)) {
          at = dict.stacks.push(STORED_STACK) - 1;
          stackWords[2 * at] = lo;
          stackWords[2 * at + 1] = hi;
        } else if ((missing ??= new IdKeyTable()).get(lo, hi) < 0) {
          missing.set(lo, hi, missingIds.length);
          missingIds.push((BigInt(hi) << 32n) | BigInt(lo));
        }
      }
      stacks[i] = at;
    }
    profiles.push({ type: s.type, labels: s.labels, timeMs: s.timeMs, durationNs: s.durationNs, period: s.period, dict, stacks, values: s.values });
  }
  // Stacks sent with their frames weigh in memory; a stored stack is one more row, counted as a sample.
  budget.tableStacks(sentCount);
  if (missingIds.length > 0) return { profiles: [], missing: missingIds };
  const stackIds = new BigUint64Array(stackWords.buffer, 0, dict.stacks.length);
  attachPrecomputedIds(dict, { mappings: u64s(ids.mappings), functions: u64s(ids.functions), locations: u64s(ids.locations), stacks: stackIds });
  return { profiles, missing: [] };
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
