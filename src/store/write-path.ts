import type { DictionaryIds, Id, Profile, SymbolDictionary } from '../model/index.js';
import { InputError, profileTypeId, seriesId } from '../model/index.js';
import { validateProfile } from '../model/validate.js';
import { ContentIds } from './content-ids.js';
import type { CommitBatch, Engine, ProfileRow, SeriesRecord, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from './engine.js';
import { KnownIds } from './known-ids.js';
import { profileContentId, profileSamples } from './profile-rows.js';
import { RECENT_WINDOW_MS, RecentProfiles } from './recent-profiles.js';
import type { WriteResult } from './store.js';

/** How many ids each "already stored" set remembers (≈ 50–80 MB at most for the five of them). */
export const KNOWN_IDS_CAPACITY = 250_000;

/** A group commit stops taking queued calls past this many sample rows (bounds commit memory). */
const MAX_ROWS_PER_COMMIT = 500_000;

export interface WritePathOptions {
  /** Bound of each in-memory "already stored" id set; tests set it tiny to exercise the database path. */
  readonly knownIdsCapacity?: number;
}

interface QueuedWrite {
  readonly tenant: string;
  readonly profiles: readonly Profile[];
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Pending {
  readonly call: number;
  readonly row: ProfileRow;
  readonly series: SeriesRecord;
  readonly dict: SymbolDictionary;
}

/**
 * The one write path, above every engine: validation (the model's rules, once), content ids, replay
 * detection, which symbols and series are new, and group commit. The engine only stores the batch.
 *
 * Group commit: calls that queue while the previous commit runs are written together, one commit
 * (one log sync, one insert per table) for all. If it fails, each call is retried alone so every
 * caller gets its own outcome.
 */
export class WritePath {
  private readonly contentIds = new ContentIds();
  private readonly queued: QueuedWrite[] = [];
  private draining: Promise<void> | undefined;

  private constructor(
    private readonly engine: Engine,
    private readonly recent: RecentProfiles,
    private readonly known: Record<SymbolKind | 'series', KnownIds>,
  ) {}

  static async open(engine: Engine, opts: WritePathOptions = {}): Promise<WritePath> {
    const capacity = opts.knownIdsCapacity ?? KNOWN_IDS_CAPACITY;
    const { ids, floorMs } = await engine.recentProfiles(RECENT_WINDOW_MS);
    const recent = new RecentProfiles(floorMs, Math.max(capacity, 1));
    for (const { id, timeMs } of ids) recent.add(id, timeMs);
    const load = async (kind: SymbolKind): Promise<KnownIds> => {
      const all = engine.sharedWriters ? undefined : await engine.listSymbolIds?.(kind, capacity);
      const k = new KnownIds(capacity, all !== undefined);
      for (const id of all ?? []) k.set(id, true);
      return k;
    };
    const known = {
      stacks: await load('stacks'),
      locations: await load('locations'),
      functions: await load('functions'),
      mappings: await load('mappings'),
      // Series ids only save re-sending a series row; engines accept repeats.
      series: new KnownIds(capacity, false),
    };
    return new WritePath(engine, recent, known);
  }

  /** Validates every profile (bad input fails alone, before it can join a group commit), then queues. */
  write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult> {
    try {
      if (tenant === '') throw new InputError('tenant must not be empty');
      const checked = new Set<SymbolDictionary>();
      profiles.forEach((p, n) => {
        try {
          validateProfile(p, checked);
        } catch (e) {
          if (e instanceof InputError) throw new InputError(`profile ${n}: ${e.message}`, e.status);
          throw e;
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ tenant, profiles, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once everything queued so far is committed or failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch: QueuedWrite[] = [];
        let rows = 0;
        while (this.queued.length > 0 && (batch.length === 0 || rows < MAX_ROWS_PER_COMMIT)) {
          const next = this.queued.shift()!;
          batch.push(next);
          for (const p of next.profiles) rows += p.stacks.length;
        }
        try {
          const results = await this.commit(batch);
          batch.forEach((c, i) => c.resolve(results[i]!));
        } catch (e) {
          if (batch.length === 1) batch[0]!.reject(e);
          else for (const c of batch) await this.commit([c]).then(([r]) => c.resolve(r!), c.reject);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async commit(calls: readonly QueuedWrite[]): Promise<WriteResult[]> {
    const results = calls.map(() => ({ profiles: 0, rows: 0 }));
    const dictIds = new Map<SymbolDictionary, DictionaryIds>();
    const seriesUsed = new Map<Id, SeriesRecord>();
    const pending: Pending[] = [];
    const seen = new Set<Id>();
    calls.forEach(({ tenant, profiles }, call) => {
      for (const p of profiles) {
        let ids = dictIds.get(p.dict);
        if (!ids) dictIds.set(p.dict, (ids = this.contentIds.of(p.dict)));
        const samples = profileSamples(p, ids.stacks);
        if (samples.stackIds.length === 0) continue; // nothing to add to any sum
        const sid = seriesId(tenant, p.type, p.labels);
        const typeId = profileTypeId(p.type);
        const id = profileContentId(sid, p, samples);
        if (seen.has(id)) continue;
        seen.add(id);
        const timeMs = Math.floor(p.timeMs);
        let series = seriesUsed.get(sid);
        if (!series) seriesUsed.set(sid, (series = { id: sid, tenant, type: p.type, typeId, labels: p.labels, firstMs: timeMs, lastMs: timeMs }));
        series.firstMs = Math.min(series.firstMs, timeMs);
        series.lastMs = Math.max(series.lastMs, timeMs);
        const row: ProfileRow = { id, tenant, seriesId: sid, typeId, timeMs, durationNs: Math.floor(p.durationNs), ...samples };
        pending.push({ call, row, series, dict: p.dict });
      }
    });
    const fresh = await this.withoutStored(pending);
    if (fresh.length === 0) return results; // symbols of skipped profiles are not needed

    const batch: CommitBatch = {
      series: [...new Set(fresh.map((f) => f.series))].filter((s) => this.known.series.get(s.id) === undefined),
      ...(await this.newSymbols(fresh, dictIds)),
      profiles: fresh.map((f) => f.row),
    };
    await this.engine.commit(batch);

    for (const s of batch.series) this.known.series.set(s.id, true);
    for (const s of batch.stacks) this.known.stacks.set(s.id, true);
    for (const l of batch.locations) this.known.locations.set(l.id, true);
    for (const f of batch.functions) this.known.functions.set(f.id, true);
    for (const m of batch.mappings) this.known.mappings.set(m.id, true);
    for (const f of fresh) {
      this.recent.add(f.row.id, f.row.timeMs);
      results[f.call]!.profiles++;
      results[f.call]!.rows += f.row.stackIds.length;
    }
    return results;
  }

  /**
   * Drops the profiles whose content id is already stored. Recent ones are decided in memory (a miss
   * only counts when this process is the only writer); the rest with one question to the engine.
   */
  private async withoutStored(pending: Pending[]): Promise<Pending[]> {
    const ask: Pending[] = [];
    const fresh: Pending[] = [];
    for (const p of pending) {
      const known = this.recent.stored(p.row.id, p.row.timeMs);
      if (known === true) continue;
      if (known === false && !this.engine.sharedWriters) fresh.push(p);
      else ask.push(p);
    }
    if (ask.length === 0) return fresh;
    let min = Infinity;
    let max = -Infinity;
    for (const p of ask) {
      min = Math.min(min, p.row.timeMs);
      max = Math.max(max, p.row.timeMs);
    }
    const stored = await this.engine.storedProfiles(ask.map((p) => p.row.id), min, max);
    for (const p of ask) if (!stored.has(p.row.id)) fresh.push(p);
    return fresh;
  }

  /** The stacks of these profiles that are not stored, and the locations, functions, mappings they need. */
  private async newSymbols(
    fresh: readonly Pending[],
    dictIds: Map<SymbolDictionary, DictionaryIds>,
  ): Promise<Pick<CommitBatch, 'stacks' | 'locations' | 'functions' | 'mappings'>> {
    // Every stack id of the fresh profiles, with where it came from (one dictionary index suffices).
    const stackSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const walked = new Set<SymbolDictionary>();
    for (const { dict } of fresh) {
      if (walked.has(dict)) continue;
      walked.add(dict);
      dictIds.get(dict)!.stacks.forEach((id, index) => {
        if (!stackSources.has(id)) stackSources.set(id, { dict, index });
      });
    }
    // Only stacks some fresh profile has a row for.
    const used = new Set<Id>();
    for (const f of fresh) for (const id of f.row.stackIds) used.add(id);
    for (const id of stackSources.keys()) if (!used.has(id)) stackSources.delete(id);

    const newStacks = await this.unstored('stacks', stackSources);
    const locSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const stacks: StoredStack[] = [];
    for (const [id, { dict, index }] of newStacks) {
      const di = dictIds.get(dict)!;
      const locs = dict.stacks[index]!;
      stacks.push({ id, locationIds: locs.map((l) => di.locations[l]!) });
      for (const l of locs) locSources.set(di.locations[l]!, { dict, index: l });
    }
    const newLocations = await this.unstored('locations', locSources);
    const fnSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const mapSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const locations: StoredLocation[] = [];
    for (const [id, { dict, index }] of newLocations) {
      const di = dictIds.get(dict)!;
      const loc = dict.locations[index]!;
      const mappingId = loc.mapping >= 0 ? di.mappings[loc.mapping]! : null;
      if (mappingId !== null) mapSources.set(mappingId, { dict, index: loc.mapping });
      for (const ln of loc.lines) fnSources.set(di.functions[ln.function]!, { dict, index: ln.function });
      locations.push({
        id,
        mappingId,
        address: BigInt.asUintN(64, loc.address),
        functionIds: loc.lines.map((ln) => di.functions[ln.function]!),
        lines: loc.lines.map((ln) => Math.trunc(ln.line)),
      });
    }
    const functions: StoredFunction[] = [];
    for (const [id, { dict, index }] of await this.unstored('functions', fnSources)) functions.push({ id, ...dict.functions[index]! });
    const mappings: StoredMapping[] = [];
    for (const [id, { dict, index }] of await this.unstored('mappings', mapSources)) mappings.push({ id, ...dict.mappings[index]! });
    return { stacks, locations, functions, mappings };
  }

  /** The entries of `candidates` that neither memory nor the engine has. */
  private async unstored<T>(kind: SymbolKind, candidates: Map<Id, T>): Promise<Map<Id, T>> {
    const known = this.known[kind];
    const out = new Map<Id, T>();
    for (const [id, v] of candidates) if (known.get(id) === undefined) out.set(id, v);
    if (out.size === 0 || (known.isComplete && !this.engine.sharedWriters)) return out;
    for (const id of await this.engine.storedSymbols(kind, [...out.keys()])) {
      out.delete(id);
      known.set(id, true);
    }
    return out;
  }
}
