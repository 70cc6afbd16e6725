import type { Id, Labels, Profile, ProfileType, Selector, SymbolDictionary } from '../model/index.js';

/**
 * The one storage interface. Two engines implement it (DuckDB embedded, ClickHouse for scale) and
 * one contract-test suite (test/store/contract.ts) runs against both. SQL stays inside each engine.
 *
 * Times are Unix milliseconds; ranges are [from, to) . Every call is scoped to a tenant: a tenant
 * never sees another's series. Aggregations run inside the engine; only their results cross here.
 */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/**
 * Every read carries its tenant, its selector and, optionally, a signal: when it aborts (a deadline,
 * a client gone) the engine stops the query inside the database and the call rejects with the reason.
 *
 * Matcher dialect (the same for every engine): Prometheus label matchers. `=~`/`!~` are RE2, fully
 * anchored (`^(?:re)$`), evaluated in linear time; a missing label matches as the empty string.
 * `selector.profileType` '' selects every profile type.
 */
export interface SeriesQuery extends TimeRange {
  readonly tenant: string;
  readonly selector: Selector;
  readonly signal?: AbortSignal;
}

/** A merge may keep only the heaviest stacks: top `limit` by value, the rest summed into one row. */
export interface MergeQuery extends SeriesQuery {
  /**
   * Merge only the samples recorded inside these spans (span profiles; `span_selector`). Undefined =
   * every sample. Such merges are never limited: a span's samples are few.
   */
  readonly spanIds?: readonly Id[];
  /**
   * Merge only these stored profiles (content ids, as heatmaps and exemplars name them;
   * `profile_id_selector`). Undefined = every profile. Never limited.
   */
  readonly profileIds?: readonly Id[];
  /** Stacks to keep (0 or undefined = all). When stacks are cut, one more row, `OTHER_STACK_ID`, holds their sum. */
  readonly limit?: number;
}

/** A merge per group of series, grouped by the values of some labels, in one pass. */
export interface GroupedMergeQuery extends MergeQuery {
  readonly groupBy: readonly string[];
}

export interface GroupedStacks {
  /** Values of the group-by labels (only those the group's series have). */
  readonly labels: Labels;
  readonly stacks: StackValue[];
}

export interface SeriesInfo {
  readonly id: Id;
  readonly profileType: ProfileType;
  readonly labels: Labels;
}

export interface StackValue {
  readonly stackId: Id;
  readonly value: number;
}

/** The remainder row of a limited merge: the summed value of every stack that was cut. Never resolved. */
export const OTHER_STACK_ID: Id = 0n;

/** Symbols for a set of stacks: `stacks.get(id)` indexes `dict.stacks`. */
export interface ResolvedStacks {
  readonly dict: SymbolDictionary;
  readonly stacks: Map<Id, number>;
}

export interface SeriesPointsQuery extends SeriesQuery {
  /** Bucket width; each point is stamped with its bucket's start. */
  readonly stepMs: number;
  /** Label names to group by; [] = one series for the whole selection. */
  readonly groupBy: readonly string[];
  /** sum: total per bucket; avg: mean per profile in the bucket. */
  readonly aggregation: 'sum' | 'avg';
}

export interface SeriesPoints {
  /** Values of the group-by labels (only those the series has). */
  readonly labels: Labels;
  readonly points: { readonly timeMs: number; readonly value: number }[];
}

/** Profiles of a selection, each named by its content id (heatmaps, exemplars). */
export interface ProfileListQuery extends SeriesQuery {
  /** Most profiles to return; a selection holding more is refused (InputError 422 naming the limit). */
  readonly limit: number;
}

export interface ListedProfile {
  readonly id: Id;
  /** The labels of the profile's series. */
  readonly labels: Labels;
  readonly timeMs: number;
  readonly total: number;
}

export interface ListedSpan {
  readonly spanId: Id;
  /** The labels of the span's series. */
  readonly labels: Labels;
  readonly timeMs: number;
  readonly total: number;
}

/** What a query over a selection would read: counted from the store, nothing merged. */
export interface QueryFootprint {
  readonly series: number;
  readonly profiles: number;
  /** Sample rows (one per profile and distinct stack). */
  readonly samples: number;
  /** Estimated bytes of those rows on disk: rows × the store's average bytes per row. */
  readonly sampleBytes: number;
}

export interface WriteResult {
  readonly profiles: number;
  readonly rows: number;
}

export interface StoreStats {
  readonly series: number;
  readonly rows: number;
  readonly bytesOnDisk: number;
}

export interface Store {
  /** Stores profiles atomically: when the promise resolves the write is durable (survives restart). */
  write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult>;

  /** Profile types of the series that match (an access scope applies through the matchers), sorted by id. */
  profileTypes(q: SeriesQuery): Promise<ProfileType[]>;
  /** Label names of series that match (selector may have no matchers), sorted. */
  labelNames(q: SeriesQuery): Promise<string[]>;
  labelValues(q: SeriesQuery, name: string): Promise<string[]>;
  series(q: SeriesQuery): Promise<SeriesInfo[]>;

  /** sum(value) group by stack over the matching series and range, in the engine; heaviest first when limited. */
  mergeStacks(q: MergeQuery): Promise<StackValue[]>;
  /** The same merge per label group (e.g. per service_name), each group limited on its own. */
  mergeStacksGrouped(q: GroupedMergeQuery): Promise<GroupedStacks[]>;
  /** Symbols for exactly these stacks (cached by id: content ids never change meaning). */
  resolveStacks(tenant: string, stackIds: readonly Id[], signal?: AbortSignal): Promise<ResolvedStacks>;
  /** Time series of totals, bucketed and grouped in the engine. */
  seriesPoints(q: SeriesPointsQuery): Promise<SeriesPoints[]>;

  /** The selection's profiles by time, at most `q.limit` (more is an InputError naming the limit). */
  listProfiles(q: ProfileListQuery): Promise<ListedProfile[]>;
  /** The selection's spans (per profile: span id and the sum of its samples) by time, at most `q.limit`. */
  listSpans(q: ProfileListQuery): Promise<ListedSpan[]>;
  /** Series, profiles and sample rows the selection holds in the range, and their estimated size. */
  footprint(q: SeriesQuery): Promise<QueryFootprint>;

  /** Drops whole day partitions older than `olderThanMs`; returns how many days were dropped. */
  dropBefore(olderThanMs: number): Promise<number>;
  stats(): Promise<StoreStats>;
  /** Throws Unavailable naming the store when it cannot serve (for /ready). */
  health(): Promise<void>;
  close(): Promise<void>;
}
