import type { FunctionInfo, Id, Mapping } from '../model/index.js';
import { emptyDictionary } from '../model/index.js';
import { BoundedCache } from './bounded-cache.js';
import type { Engine, StoredLocation } from './engine.js';
import type { ResolvedStacks } from './store.js';
import { OTHER_STACK_ID } from './store.js';

const CACHE_CAPACITY = 200_000;

/**
 * Symbols for exactly the stacks a query kept, for any engine. Content ids never change meaning, so
 * every level (stack, location, function, mapping) is cached by id — per server, whatever the engine —
 * and only misses reach the database, one bulk fetch per level.
 */
export class SymbolCache {
  private readonly stacks = new BoundedCache<Id, readonly Id[]>(CACHE_CAPACITY);
  private readonly locations = new BoundedCache<Id, StoredLocation>(CACHE_CAPACITY);
  private readonly functions = new BoundedCache<Id, FunctionInfo>(CACHE_CAPACITY);
  private readonly mappings = new BoundedCache<Id, Mapping>(CACHE_CAPACITY);

  constructor(private readonly engine: Engine) {}

  async resolve(stackIds: readonly Id[], signal?: AbortSignal): Promise<ResolvedStacks> {
    const e = this.engine;
    const wanted = [...new Set(stackIds)].filter((id) => id !== OTHER_STACK_ID);
    const stacks = await fill(this.stacks, wanted, async (ids) =>
      (await e.fetchSymbols('stacks', ids, signal)).map((s) => [s.id, s.locationIds] as const),
    );
    const locIds = new Set<Id>();
    for (const locs of stacks.values()) for (const l of locs) locIds.add(l);
    const locations = await fill(this.locations, [...locIds], async (ids) =>
      (await e.fetchSymbols('locations', ids, signal)).map((l) => [l.id, l] as const),
    );
    const fnIds = new Set<Id>();
    const mapIds = new Set<Id>();
    for (const l of locations.values()) {
      for (const f of l.functionIds) fnIds.add(f);
      if (l.mappingId !== null) mapIds.add(l.mappingId);
    }
    const functions = await fill(this.functions, [...fnIds], async (ids) =>
      (await e.fetchSymbols('functions', ids, signal)).map((f) => [f.id, { name: f.name, systemName: f.systemName, file: f.file }] as const),
    );
    const mappings = await fill(this.mappings, [...mapIds], async (ids) =>
      (await e.fetchSymbols('mappings', ids, signal)).map((m) => [m.id, { binary: m.binary, buildId: m.buildId }] as const),
    );
    return assemble(stacks, locations, functions, mappings);
  }
}

/** Entries for `ids` from the cache, the misses from `fetch`; ids the engine lacks are left out. */
async function fill<T>(
  cache: BoundedCache<Id, T>,
  ids: readonly Id[],
  fetch: (missing: Id[]) => Promise<(readonly [Id, T])[]>,
): Promise<Map<Id, T>> {
  const out = new Map<Id, T>();
  const missing: Id[] = [];
  for (const id of ids) {
    const v = cache.get(id);
    if (v === undefined) missing.push(id);
    else out.set(id, v);
  }
  if (missing.length > 0) {
    for (const [id, v] of await fetch(missing)) {
      cache.set(id, v);
      out.set(id, v);
    }
  }
  return out;
}

/**
 * One dictionary for the resolved stacks. Entries are unique by content id already, so it is indexed
 * by id (cheap bigint lookups) rather than rebuilt through DictionaryBuilder's string keys.
 */
function assemble(
  stacks: Map<Id, readonly Id[]>,
  locations: Map<Id, StoredLocation>,
  functions: Map<Id, FunctionInfo>,
  mappings: Map<Id, Mapping>,
): ResolvedStacks {
  const dict = emptyDictionary();
  const fnIndex = new Map<Id, number>();
  const mapIndex = new Map<Id, number>();
  const locIndex = new Map<Id, number>();
  const functionIndex = (fid: Id): number => {
    let i = fnIndex.get(fid);
    if (i === undefined) fnIndex.set(fid, (i = dict.functions.push(functions.get(fid) ?? { name: '?', systemName: '', file: '' }) - 1));
    return i;
  };
  const mappingIndex = (mid: Id | null): number => {
    const m = mid === null ? undefined : mappings.get(mid);
    if (mid === null || m === undefined) return -1;
    let i = mapIndex.get(mid);
    if (i === undefined) mapIndex.set(mid, (i = dict.mappings.push(m) - 1));
    return i;
  };
  const locationIndex = (lid: Id): number => {
    let i = locIndex.get(lid);
    if (i === undefined) {
      const l = locations.get(lid);
      const lines = l ? l.functionIds.map((fid, k) => ({ function: functionIndex(fid), line: l.lines[k] ?? 0 })) : [];
      i = dict.locations.push({ mapping: l ? mappingIndex(l.mappingId) : -1, address: l?.address ?? 0n, lines }) - 1;
      locIndex.set(lid, i);
    }
    return i;
  };
  const out = new Map<Id, number>();
  for (const [sid, locs] of stacks) out.set(sid, dict.stacks.push(locs.map(locationIndex)) - 1);
  return { dict, stacks: out };
}
