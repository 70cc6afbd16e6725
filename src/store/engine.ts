import type { FunctionInfo, Id, Labels, Mapping, ProfileType } from '../model/index.js';
import type { SpanRows } from './profile-rows.js';
import type { StackValue, StoreStats, TimeRange } from './store.js';

/**
 * What a storage engine implements: its SQL, its connection, its physical layout — nothing else.
 *
 * Everything engine-neutral lives once above this, in `EngineStore` (src/store/engine-store.ts):
 * input validation, content ids, replay detection, group commit, which symbols are new, selector
 * matching (Prometheus semantics, RE2), label listing, grouping, symbol caching. An engine sees only
 * content ids (64-bit hashes, the same on every server), so N servers writing one database agree.
 *
 * Reads take the tenant and the series ids the layer above already selected (all of that tenant), and a signal the engine must honour inside
 * the database (cancel the running query) so a deadline frees the database too, not only the caller.
 */
export interface Engine {
  /** Short name for messages and metrics: "duckdb", "clickhouse". */
  readonly name: string;
  /**
   * True when other servers may write the same database (ClickHouse behind N replicas): then what
   * this process remembers is never the whole truth, and every miss is asked of the engine.
   */
  readonly sharedWriters: boolean;
  /** How this engine's group commits gather writes; absent: DEFAULT_COMMIT_PACING. */
  readonly commitPacing?: CommitPacing;

  // ---- writes ----

  /**
   * Stores one batch atomically where the engine can (DuckDB: one transaction) and durably: when the
   * promise resolves the batch survives a restart. Must be idempotent: a batch may repeat symbols and
   * series that are already stored, and a retried batch must not count its samples twice.
   * Engines without transactions (ClickHouse) insert symbols and series before samples and the
   * `profiles` rows last, so a profile id is only ever visible once its samples are.
   */
  commit(batch: CommitBatch): Promise<void>;
  /**
   * Which of these profile ids are stored. Times bound the search (every id's profile lies in
   * [fromMs, toMs]); `where` names the tenants and series they belong to, so an engine whose profiles
   * are keyed by them (ClickHouse) reads a few granules instead of every tenant's profiles of those hours.
   */
  storedProfiles(ids: readonly Id[], fromMs: number, toMs: number, where?: ProfileLookupHint): Promise<Set<Id>>;
  /**
   * Ids and times of the profiles stored within `windowMs` of the newest one, and that floor
   * (`-Infinity` when nothing is stored): replay detection after a restart starts from them.
   */
  recentProfiles(windowMs: number): Promise<{ ids: { id: Id; timeMs: number }[]; floorMs: number }>;
  /** Which of these symbol ids are stored (only asked once the in-memory sets above are incomplete). */
  storedSymbols(kind: SymbolKind, ids: readonly Id[]): Promise<Set<Id>>;
  /**
   * Every stored id of a kind when there are at most `max` of them, else undefined. Lets a single
   * writer start with complete in-memory sets and ask the database nothing for known symbols.
   */
  listSymbolIds?(kind: SymbolKind, max: number): Promise<Id[] | undefined>;

  // ---- reads ----

  /** Every series of `tenant` with data in the range; `profileType` '' = every type. Matching is done above. */
  series(tenant: string, range: TimeRange, profileType: string, signal?: AbortSignal): Promise<SeriesRecord[]>;
  /**
   * sum(value) by stack over the series and range, once per group (a group is a list of series ids),
   * in the engine. With `limit` > 0 each group keeps its `limit` heaviest stacks (value descending)
   * plus one row `{ stackId: OTHER_STACK_ID, value: sum of the rest }` when anything was cut.
   * Wide ranges may be answered from the engine's coarser rollups: the sums are the same.
   */
  mergeStacks(tenant: string, groups: readonly (readonly Id[])[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<StackValue[][]>;
  /**
   * Per group, the total of each bucket `[from + k*step, from + (k+1)*step)` that has data, ascending:
   * `sum` = total of the bucket's profiles, `avg` = that total divided by the number of profiles.
   */
  seriesPoints(
    tenant: string,
    groups: readonly (readonly Id[])[],
    range: TimeRange,
    stepMs: number,
    aggregation: 'sum' | 'avg',
    signal?: AbortSignal,
  ): Promise<{ timeMs: number; value: number }[][]>;
  /**
   * sum(value) by stack over the samples recorded inside any of `spanIds`, for these series and range,
   * in the engine (from the span-sample rows; no limit: a span's samples are few).
   */
  mergeSpanStacks(tenant: string, seriesIds: readonly Id[], range: TimeRange, spanIds: readonly Id[], signal?: AbortSignal): Promise<StackValue[]>;
  /**
   * The stored profiles of these series in the range, by time then id, at most `limit` of them (the
   * caller asks for one more than it accepts, to tell a cut from an exact fit). One row per profile,
   * from the per-profile table: no sample is read.
   */
  listProfiles(tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedProfileRow[]>;
  /**
   * sum(value) by stack over the samples of the given profiles (content ids) among these series and
   * range, in the engine. Samples are stored per (series, time), not per profile id: `shared` counts
   * the other profiles stored at the same series and instant as a selected one, whose samples cannot
   * be told apart from its own (the layer above refuses such a selection rather than mix them in).
   */
  mergeProfileStacks(tenant: string, seriesIds: readonly Id[], range: TimeRange, profileIds: readonly Id[], signal?: AbortSignal): Promise<ProfileMerge>;
  /**
   * The spans recorded in these series and range: per (series, profile time, span) the sum of its
   * samples, by time then span id, at most `limit` rows (the caller asks one more to tell a cut).
   */
  listSpans(tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedSpanRow[]>;
  /** How many profiles, and sample rows in them, these series hold in the range; counted in the engine. */
  countProfiles(tenant: string, seriesIds: readonly Id[], range: TimeRange, signal?: AbortSignal): Promise<ProfileCounts>;
  /** Symbol rows by id (ids the engine lacks are left out). The layer above caches them. */
  fetchSymbols(kind: 'stacks', ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[]>;
  fetchSymbols(kind: 'locations', ids: readonly Id[], signal?: AbortSignal): Promise<StoredLocation[]>;
  fetchSymbols(kind: 'functions', ids: readonly Id[], signal?: AbortSignal): Promise<StoredFunction[]>;
  fetchSymbols(kind: 'mappings', ids: readonly Id[], signal?: AbortSignal): Promise<StoredMapping[]>;

  // ---- upkeep ----

  /** Drops whole days that end at or before `olderThanMs`; returns how many days went. */
  dropBefore(olderThanMs: number): Promise<number>;
  stats(): Promise<StoreStats>;
  /** Resolves when the engine can serve; rejects with `Unavailable` naming the store otherwise. */
  health(): Promise<void>;
  close(): Promise<void>;
}

/** One stored profile as a listing names it (heatmap cells, exemplars). */
export interface ListedProfileRow {
  readonly id: Id;
  readonly seriesId: Id;
  readonly timeMs: number;
  /** Sum of the profile's values. */
  readonly total: number;
}

/** One span of one profile as a listing names it (span heatmaps, span exemplars). */
export interface ListedSpanRow {
  readonly spanId: Id;
  readonly seriesId: Id;
  readonly timeMs: number;
  /** Sum of the span's samples in that profile. */
  readonly total: number;
}

export interface ProfileMerge {
  readonly stacks: StackValue[];
  /** Unselected profiles sharing a selected profile's series and instant (0 = the merge is exact). */
  readonly shared: number;
}

export interface ProfileCounts {
  readonly profiles: number;
  /** Sample rows: one per (profile, distinct stack). */
  readonly rows: number;
}

export type SymbolKind = 'stacks' | 'locations' | 'functions' | 'mappings';

/** The tenants and series the profiles of a `storedProfiles` question belong to. */
export interface ProfileLookupHint {
  readonly tenants: readonly string[];
  readonly seriesIds: readonly Id[];
}

/** One series as an engine hands it up: identity, labels and the time bounds of its data. */
export interface SeriesRecord {
  readonly id: Id;
  readonly tenant: string;
  readonly type: ProfileType;
  /** `profileTypeId(type)`, the 5-part id. */
  readonly typeId: string;
  readonly labels: Labels;
  firstMs: number;
  lastMs: number;
}

export interface StoredMapping extends Mapping {
  readonly id: Id;
}
export interface StoredFunction extends FunctionInfo {
  readonly id: Id;
}
export interface StoredLocation {
  readonly id: Id;
  /** null: no mapping known. */
  readonly mappingId: Id | null;
  /** Instruction address; 0 for symbolized frames (their identity is their lines). */
  readonly address: bigint;
  /** The frames at this address, innermost first (inlining), and their line numbers. */
  readonly functionIds: readonly Id[];
  readonly lines: readonly number[];
}
export interface StoredStack {
  readonly id: Id;
  /** Leaf first. */
  readonly locationIds: readonly Id[];
}

/** One stored profile, reduced to what the samples hold. */
export interface ProfileRow {
  /** Content id: series, time, duration and samples hash to it, so a replay has the same id. */
  readonly id: Id;
  readonly tenant: string;
  readonly seriesId: Id;
  /** The series' profile type id (engines may order samples by it). */
  readonly typeId: string;
  /** Unix ms, integer. */
  readonly timeMs: number;
  readonly durationNs: number;
  /** Sum of the values. */
  readonly total: number;
  /** Each value is `scaled[i] * scale`; scale is the values' gcd (e.g. the sampling period), else 1. */
  readonly scale: number;
  /** Distinct stacks, sorted by id; one row each, no zeros. */
  readonly stackIds: BigUint64Array;
  readonly scaled: Float64Array;
  /** Samples recorded inside spans: stored apart (a span-sample table), only for profiles that have them. */
  readonly spans?: SpanRows;
}

/**
 * How a group commit gathers queued writes before it starts. A commit always waits up to
 * `gatherMs` while the server has decodes in flight; on top of that it starts at most once per
 * `minIntervalMs`, so writes arriving meanwhile share it. It stops waiting once `rows` sample rows
 * are queued.
 */
export interface CommitPacing {
  readonly rows: number;
  readonly gatherMs: number;
  readonly minIntervalMs: number;
  /**
   * While writes come in streams (several are queued, or some queued while the last commit ran, or it
   * held several), also wait — up to `quietMaxMs` in all — until as many writes are queued as the
   * stream has writers, or none has joined the queue for this long: requests decoded one after
   * another then share one commit. A lone writer, one write at a time, is not held. 0 / absent: no
   * such wait.
   */
  readonly quietMs?: number;
  readonly quietMaxMs?: number;
}

/**
 * An embedded engine's commit costs milliseconds of CPU whatever it holds, and each agent push it
 * adds only ≈ 0.3 ms (DuckDB, bench/duckdb-commit.ts: one push 3.9 ms, eight 5.9 ms), so writes on
 * their way are waited for, until 16 384 rows (≈ 20 pushes) are queued: up to 20 ms while the decode
 * pool has work in flight, and with decodes on the event loop until 20 ms pass without a new write,
 * at most 100 ms (an agent pushes every 10 s; the ack's latency does not matter to it). With 8
 * agent-sized pushes in flight on the event loop the quiet period took commits from ≈ 115 to ≈ 55 per
 * 400 pushes (docs/BENCHMARKS.md, issue 7 round 4); in the pool, waiting up to 100 ms cost a quarter
 * of the wall throughput for no CPU gain, so the pool keeps its 20 ms.
 */
export const DEFAULT_COMMIT_PACING: CommitPacing = { rows: 16_384, gatherMs: 20, minIntervalMs: 0, quietMs: 20, quietMaxMs: 100 };

/** What one commit adds. Symbol and series lists may name entries the engine already has. */
export interface CommitBatch {
  readonly series: readonly SeriesRecord[];
  readonly mappings: readonly StoredMapping[];
  readonly functions: readonly StoredFunction[];
  readonly locations: readonly StoredLocation[];
  readonly stacks: readonly StoredStack[];
  readonly profiles: readonly ProfileRow[];
}
