import type { Id, Labels, Profile, ProfileType, SymbolDictionary } from '../model/index.js';
import { InputError, profileTypeId, seriesId } from '../model/index.js';
import { validateProfile } from '../model/validate.js';
import type { WriteIds } from './content-ids.js';
import { ContentIds, checksDictionary } from './content-ids.js';
import { EventLoopSlices } from './event-loop-slices.js';
import { DEFAULT_COMMIT_PACING } from './engine.js';
import type { CommitBatch, CommitPacing, Engine, ProfileRow, SeriesRecord, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from './engine.js';
import { KnownIds } from './known-ids.js';
import type { ProfileSamples } from './profile-rows.js';
import { profileContentId, profileSamples } from './profile-rows.js';
import { RECENT_WINDOW_MS, RecentProfiles } from './recent-profiles.js';
import { STORED_STACK } from './stored-stacks.js';
import { retentionText } from './retention.js';
import type { WriteResult } from './store.js';

/** How many ids each "already stored" set remembers (≈ 50–80 MB at most for the five of them). */
export const KNOWN_IDS_CAPACITY = 250_000;

/** A group commit stops taking queued calls past this many sample rows (bounds commit memory). */
const MAX_ROWS_PER_COMMIT = 500_000;

/** Profile ids of failed commits remembered as "maybe stored" (a few MB); past it the oldest are forgotten. */
const MAX_IN_DOUBT = 100_000;

export interface WritePathOptions {
  /** Bound of each in-memory "already stored" id set; tests set it tiny to exercise the database path. */
  readonly knownIdsCapacity?: number;
  /** `--retention`: profiles older than this are refused, not stored to be deleted unseen. 0 / absent: keep all. */
  readonly retentionMs?: number;
}

interface QueuedWrite {
  readonly tenant: string;
  readonly profiles: readonly Prepared[];
  /** Sample rows of all its profiles. */
  readonly rows: number;
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

/** A profile reduced to its rows and ids when it is written, before it waits for a commit. */
interface Prepared {
  readonly id: Id;
  readonly seriesId: Id;
  readonly type: ProfileType;
  readonly typeId: string;
  readonly labels: Labels;
  readonly timeMs: number;
  readonly durationNs: number;
  readonly samples: ProfileSamples;
  /** Only while some of its stacks were not known to be stored: where their symbols come from. */
  readonly symbols: StackSymbols | undefined;
}

/** A dictionary, its ids, and the indices of its stacks that may still need storing. */
interface StackSymbols {
  readonly dict: SymbolDictionary;
  readonly ids: WriteIds;
  readonly stacks: readonly number[];
}

interface Pending {
  readonly call: number;
  readonly row: ProfileRow;
  readonly series: SeriesRecord;
  readonly symbols: StackSymbols | undefined;
}

/**
 * Retention drops whole days older than it, so such a profile would be stored, never shown by the
 * default views and deleted at the next pass. Refused instead, saying what to do with an old file.
 */
function olderThanRetention(timeMs: number, oldestMs: number, retentionMs: number): InputError {
  const at = (ms: number) => new Date(ms).toISOString();
  return new InputError(
    `dated ${at(timeMs)}, older than the server's retention of ${retentionText(retentionMs)} (it keeps data since ${at(oldestMs)}): it would be deleted unseen. ` +
      'To store an old file as of now, use kiln ingest --now (restamp=1 on /ingest)',
  );
}

/** Where one symbol of a batch comes from: a dictionary, its ids, the symbol's index in it. */
interface Source {
  readonly dict: SymbolDictionary;
  readonly ids: WriteIds;
  readonly index: number;
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
  /** Stacks known stored, shared with the server's decoders so they skip those stacks' symbols. */
  readonly storedStacks = this.contentIds.sharedStored!;
  private readonly queued: QueuedWrite[] = [];
  private draining: Promise<void> | undefined;
  /**
   * Profiles of commits that failed. A failure does not prove nothing was stored: DuckDB writes the
   * commit to its WAL and then runs the checkpoint, which can fail for space — the caller gets 503,
   * yet the rows come back when the file is reopened. Memory would call the client's retry new and
   * store it twice; these ids are asked of the engine instead (a Set keeps insertion order: the
   * oldest go first when it is full).
   */
  private readonly inDoubt = new Set<Id>();
  private readonly pacing: CommitPacing;
  /** When the last commit started (performance.now()), for the engine's minimum commit interval. */
  private lastCommitAt = -Infinity;
  /** When the newest write joined the queue (performance.now()), for the pacing's quiet period. */
  private lastQueuedAt = -Infinity;
  /** How many write calls the last commit held (several: writes are arriving in streams). */
  private lastCommitWrites = 0;
  /**
   * How many writers the stream has: the most writes waiting at once (queued or in the running commit)
   * since the last commit that had to wait out its quiet period. A streaming commit starts as soon as
   * that many are queued: with 8 agents' pushes in flight, each commit then holds the 8 instead of the
   * 2–4 that happened to queue while the previous one ran, and no commit waits for a writer that is
   * already in it.
   */
  private streamWidth = 0;
  /** Writes in the running commit. */
  private committingWrites = 0;
  /** A commit is running; a write that queues meanwhile is part of a stream. */
  private committing = false;
  private queuedWhileCommitting = false;

  private constructor(
    private readonly engine: Engine,
    private readonly recent: RecentProfiles,
    private readonly known: Record<SymbolKind | 'series', KnownIds>,
    private readonly retentionMs: number,
  ) {
    this.pacing = engine.commitPacing ?? DEFAULT_COMMIT_PACING;
  }

  static async open(engine: Engine, opts: WritePathOptions = {}): Promise<WritePath> {
    const capacity = opts.knownIdsCapacity ?? KNOWN_IDS_CAPACITY;
    // With other writers, a miss in memory is asked of the engine anyway: loading every tenant's recent
    // profile ids at each start would only save repeat questions.
    const { ids, floorMs } = engine.sharedWriters ? { ids: [], floorMs: Infinity } : await engine.recentProfiles(RECENT_WINDOW_MS);
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
    return new WritePath(engine, recent, known, opts.retentionMs ?? 0);
  }

  /**
   * Validates every profile (bad input fails alone, before it can join a group commit), reduces each
   * to its rows and content ids, then queues. Reducing here rather than at commit time lets the
   * request's decoded dictionary (thousands of strings and small objects) die young, before it waits
   * for a commit: a queued dictionary outlived a scavenge or two and was promoted, and old-space
   * collections of those were the largest single cost of ingest in the server's CPU profile. Only
   * dictionaries with stacks not yet known to be stored are kept (the first pushes of a service).
   */
  async write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult> {
    if (tenant === '') throw new InputError('tenant must not be empty');
    // Validation walks every sample and frame: a large request starts it on a turn of its own.
    const turn = new EventLoopSlices().beforeStep(profiles.reduce((n, p) => n + p.stacks.length, 0));
    if (turn) await turn;
    // A dictionary whose ids prepare() computes is checked there, in the same walk (checksDictionary):
    // validateProfile is told it is checked, and walks only the profile's own fields and samples.
    const checked = new Set<SymbolDictionary>();
    for (const p of profiles) if (checksDictionary(p.dict)) checked.add(p.dict);
    const oldestMs = this.retentionMs > 0 ? Date.now() - this.retentionMs : -Infinity;
    profiles.forEach((p, n) => {
      try {
        validateProfile(p, checked);
        if (p.timeMs < oldestMs) throw olderThanRetention(p.timeMs, oldestMs, this.retentionMs);
      } catch (e) {
        if (e instanceof InputError) throw new InputError(`profile ${n}: ${e.message}`, e.status);
        throw e;
      }
    });
    const prepared = await this.prepare(tenant, profiles);
    let rows = 0;
    for (const p of prepared) rows += p.samples.stackIds.length;
    return new Promise((resolve, reject) => {
      this.queued.push({ tenant, profiles: prepared, rows, resolve, reject });
      this.lastQueuedAt = performance.now();
      this.streamWidth = Math.max(this.streamWidth, this.queued.length + this.committingWrites);
      if (this.committing) this.queuedWhileCommitting = true;
      this.draining ??= this.drain();
    });
  }

  /** Yields to the event loop between slices of a large request (see EventLoopSlices). */
  private async prepare(tenant: string, profiles: readonly Profile[]): Promise<Prepared[]> {
    const out: Prepared[] = [];
    const slices = new EventLoopSlices();
    let lastDict: SymbolDictionary | undefined;
    let ids: WriteIds | undefined;
    const known = this.known.stacks;
    for (let n = 0; n < profiles.length; n++) {
      const p = profiles[n]!;
      // The profiles of one request usually share their dictionary (one per pprof or OTLP request).
      if (p.dict !== lastDict || ids === undefined) {
        lastDict = p.dict;
        try {
          ids = this.contentIds.forWrite(p.dict);
        } catch (e) {
          // The dictionary's own check (see write()): the call fails whole, before anything is queued.
          if (e instanceof InputError) throw new InputError(`profile ${n}: ${e.message}`, e.status);
          throw e;
        }
      }
      const turn = slices.beforeStep(p.stacks.length);
      if (turn) await turn;
      const samples = profileSamples(p, ids.stackWords);
      if (samples.stackIds.length === 0) continue; // nothing to add to any sum
      // Stacks that may still need storing. `stackStored` answers for stacks seen stored before
      // without a lookup in the known-id set (a Map keyed by bigint: ≈ 0.4 ms per 800-row profile).
      let unknown: number[] | undefined;
      for (let i = 0; i < p.stacks.length; i++) {
        const s = p.stacks[i]!;
        if (p.values[i] === 0 || ids.stackStored[s] === 1) continue;
        const id = ids.stacks[s]!;
        if (known.get(id) !== undefined) this.contentIds.markStored(id);
        else (unknown ??= []).push(s);
        const turn = slices.pause();
        if (turn) await turn;
      }
      const sid = seriesId(tenant, p.type, p.labels);
      out.push({
        id: profileContentId(sid, p, samples),
        seriesId: sid,
        type: p.type,
        typeId: profileTypeId(p.type),
        labels: p.labels,
        timeMs: Math.floor(p.timeMs),
        durationNs: Math.floor(p.durationNs),
        samples,
        symbols: unknown ? { dict: p.dict, ids, stacks: unknown } : undefined,
      });
    }
    return out;
  }

  /** Resolves once everything queued so far is committed or failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * Whether more writes are about to arrive (see write-hints.ts); the store that owns this path sets it.
   * A number says how many (a server's decodes in flight): a streaming commit then waits for them all.
   */
  moreComing: () => boolean | number | undefined = () => undefined;

  /**
   * Before a commit, while it would hold few rows: waits for the writes on their way (at most
   * `gatherMs` while the server has decodes in flight; while writes come in streams, with `quietMs`,
   * until the stream's writers are all queued or no write has joined the queue for that long, at most
   * `quietMaxMs`) and for the engine's minimum interval since the last commit, so a commit's fixed
   * cost — one DuckDB commit, or one part per table in ClickHouse, which merges them in the
   * background — is paid once for all of them. Nothing is acknowledged before its commit: waiting
   * here only delays the answer.
   */
  private async gather(): Promise<void> {
    const { rows: enough, gatherMs, minIntervalMs, quietMs = 0, quietMaxMs = 0 } = this.pacing;
    const started = performance.now();
    const paced = this.lastCommitAt + minIntervalMs;
    // The quiet period holds only writes that come in streams (several queued now, some queued while
    // the last commit ran, or it held several): a lone writer, one write at a time, is not held.
    const comingAtStart = this.moreComing();
    const streaming = quietMs > 0 && (this.queued.length > 1 || this.queuedWhileCommitting || this.lastCommitWrites > 1 || (typeof comingAtStart === 'number' && comingAtStart > 0));
    if (!streaming) this.streamWidth = this.queued.length;
    for (;;) {
      let rows = 0;
      for (const q of this.queued) rows += q.rows;
      if (rows >= enough) return;
      const now = performance.now();
      const coming = this.moreComing();
      const until = Math.max(paced, coming ? started + gatherMs : -Infinity);
      // Writes counted on their way (decodes in flight) are the stream's writers too, and each will come:
      // no quiet period ends the wait for them, only `quietMaxMs`.
      const counted = streaming && typeof coming === 'number' && coming > 0;
      if (counted) this.streamWidth = Math.max(this.streamWidth, this.queued.length + coming);
      if (streaming && this.queued.length < this.streamWidth) {
        // Some of the stream's writers have not queued yet. A server's decode pool being idle does not
        // mean they are not coming: requests read on the event loop (the agents' rows pushes) are not
        // in it. Past the quiet period the stream is taken to be narrower: what is queued now. The
        // period runs from this gather's start at the earliest: the writers the last commit just
        // answered need a moment to send their next writes, and a write that queued while that commit
        // ran would otherwise go alone (a commit of 7 writes, then one of 1, then 7 again...).
        const quietUntil = counted ? started + quietMaxMs : Math.min(started + quietMaxMs, Math.max(this.lastQueuedAt, started) + quietMs);
        if (now >= Math.max(until, quietUntil)) {
          this.streamWidth = this.queued.length;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5, Math.max(1, Math.max(until, quietUntil) - now))));
        continue;
      }
      if (now >= until) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, Math.max(1, until - now))));
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        await this.gather();
        this.lastCommitAt = performance.now();
        const batch: QueuedWrite[] = [];
        let rows = 0;
        while (this.queued.length > 0 && (batch.length === 0 || rows < MAX_ROWS_PER_COMMIT)) {
          const next = this.queued.shift()!;
          batch.push(next);
          rows += next.rows;
        }
        this.lastCommitWrites = batch.length;
        this.queuedWhileCommitting = false;
        this.committing = true;
        this.committingWrites = batch.length;
        try {
          const results = await this.commit(batch);
          batch.forEach((c, i) => c.resolve(results[i]!));
        } catch (e) {
          this.doubt(batch);
          if (batch.length === 1) batch[0]!.reject(e);
          else for (const c of batch) await this.commit([c]).then(([r]) => c.resolve(r!), c.reject);
        } finally {
          this.committing = false;
          this.committingWrites = 0;
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private doubt(calls: readonly QueuedWrite[]): void {
    for (const c of calls) {
      for (const p of c.profiles) {
        this.inDoubt.add(p.id);
        if (this.inDoubt.size > MAX_IN_DOUBT) this.inDoubt.delete(this.inDoubt.values().next().value!);
      }
    }
  }

  private async commit(calls: readonly QueuedWrite[]): Promise<WriteResult[]> {
    const results = calls.map(() => ({ profiles: 0, rows: 0 }));
    const seriesUsed = new Map<Id, SeriesRecord>();
    const pending: Pending[] = [];
    const seen = new Set<Id>();
    calls.forEach(({ tenant, profiles }, call) => {
      for (const p of profiles) {
        if (seen.has(p.id)) continue;
        seen.add(p.id);
        let series = seriesUsed.get(p.seriesId);
        if (!series) {
          series = { id: p.seriesId, tenant, type: p.type, typeId: p.typeId, labels: p.labels, firstMs: p.timeMs, lastMs: p.timeMs };
          seriesUsed.set(p.seriesId, series);
        }
        series.firstMs = Math.min(series.firstMs, p.timeMs);
        series.lastMs = Math.max(series.lastMs, p.timeMs);
        const row: ProfileRow = { id: p.id, tenant, seriesId: p.seriesId, typeId: p.typeId, timeMs: p.timeMs, durationNs: p.durationNs, ...p.samples };
        pending.push({ call, row, series, symbols: p.symbols });
      }
    });
    const fresh = await this.withoutStored(pending);
    if (fresh.length === 0) return results; // symbols of skipped profiles are not needed

    const slices = new EventLoopSlices();
    const batch: CommitBatch = {
      series: [...new Set(fresh.map((f) => f.series))].filter((s) => this.known.series.get(s.id) === undefined),
      ...(await this.newSymbols(fresh, slices)),
      profiles: fresh.map((f) => f.row),
    };
    await this.engine.commit(batch);

    for (const s of batch.series) this.known.series.set(s.id, true);
    for (const s of batch.stacks) {
      this.known.stacks.set(s.id, true);
      this.contentIds.markStored(s.id);
      const turn = slices.pause();
      if (turn) await turn;
    }
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
      if (this.inDoubt.has(p.row.id)) {
        ask.push(p);
        continue;
      }
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
    const where = { tenants: [...new Set(ask.map((p) => p.row.tenant))], seriesIds: [...new Set(ask.map((p) => p.row.seriesId))] };
    const stored = await this.engine.storedProfiles(ask.map((p) => p.row.id), min, max, where);
    for (const p of ask) {
      // Answered: stored ones are skipped, the others committed now (and doubted again if that fails).
      this.inDoubt.delete(p.row.id);
      if (stored.has(p.row.id)) this.recent.add(p.row.id, p.row.timeMs);
      else fresh.push(p);
    }
    return fresh;
  }

  /** The stacks of these profiles that are not stored, and the locations, functions, mappings they need. */
  private async newSymbols(fresh: readonly Pending[], slices: EventLoopSlices): Promise<Pick<CommitBatch, 'stacks' | 'locations' | 'functions' | 'mappings'>> {
    // Stacks not known to be stored when their profile was prepared (one source each suffices).
    const stackSources = new Map<Id, Source>();
    for (const { symbols } of fresh) {
      if (!symbols) continue;
      const { dict, ids } = symbols;
      for (const index of symbols.stacks) {
        const id = ids.stacks[index]!;
        if (!stackSources.has(id)) stackSources.set(id, { dict, ids, index });
        const turn = slices.pause();
        if (turn) await turn;
      }
    }
    if (stackSources.size === 0) return { stacks: [], locations: [], functions: [], mappings: [] };

    const newStacks = await this.unstored('stacks', stackSources, slices);
    const locSources = new Map<Id, Source>();
    const stacks: StoredStack[] = [];
    for (const [id, { dict, ids, index }] of newStacks) {
      const locs = dict.stacks[index]!;
      // Only stacks marked stored are left out by decoders, and stored stacks stay stored: this would be a bug.
      if (locs === STORED_STACK) throw new Error(`stack ${id} came without its frames as stored, but the store does not have it`);
      stacks.push({ id, locationIds: locs.map((l) => ids.locations[l]!) });
      for (const l of locs) locSources.set(ids.locations[l]!, { dict, ids, index: l });
      const turn = slices.pause(locs.length);
      if (turn) await turn;
    }
    const newLocations = await this.unstored('locations', locSources, slices);
    const fnSources = new Map<Id, Source>();
    const mapSources = new Map<Id, Source>();
    const locations: StoredLocation[] = [];
    for (const [id, { dict, ids, index }] of newLocations) {
      const loc = dict.locations[index]!;
      const mappingId = loc.mapping >= 0 ? ids.mappings[loc.mapping]! : null;
      if (mappingId !== null) mapSources.set(mappingId, { dict, ids, index: loc.mapping });
      for (const ln of loc.lines) fnSources.set(ids.functions[ln.function]!, { dict, ids, index: ln.function });
      locations.push({
        id,
        mappingId,
        address: BigInt.asUintN(64, loc.address),
        functionIds: loc.lines.map((ln) => ids.functions[ln.function]!),
        lines: loc.lines.map((ln) => Math.trunc(ln.line)),
      });
    }
    const functions: StoredFunction[] = [];
    for (const [id, { dict, index }] of await this.unstored('functions', fnSources, slices)) functions.push({ id, ...dict.functions[index]! });
    const mappings: StoredMapping[] = [];
    for (const [id, { dict, index }] of await this.unstored('mappings', mapSources, slices)) mappings.push({ id, ...dict.mappings[index]! });
    return { stacks, locations, functions, mappings };
  }

  /** The entries of `candidates` that neither memory nor the engine has. */
  private async unstored<T>(kind: SymbolKind, candidates: Map<Id, T>, slices: EventLoopSlices): Promise<Map<Id, T>> {
    const known = this.known[kind];
    const out = new Map<Id, T>();
    for (const [id, v] of candidates) {
      if (known.get(id) === undefined) out.set(id, v);
      const turn = slices.pause();
      if (turn) await turn;
    }
    if (out.size === 0 || (known.isComplete && !this.engine.sharedWriters)) return out;
    for (const id of await this.engine.storedSymbols(kind, [...out.keys()])) {
      out.delete(id);
      known.set(id, true);
    }
    return out;
  }
}
