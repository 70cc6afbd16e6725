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

export interface SeriesQuery extends TimeRange {
  readonly tenant: string;
  readonly selector: Selector;
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

  profileTypes(tenant: string, range: TimeRange): Promise<ProfileType[]>;
  /** Label names of series that match (selector may have no matchers), sorted. */
  labelNames(q: SeriesQuery): Promise<string[]>;
  labelValues(q: SeriesQuery, name: string): Promise<string[]>;
  series(q: SeriesQuery): Promise<SeriesInfo[]>;

  /** sum(value) group by stack over the matching series and range, in the engine. */
  mergeStacks(q: SeriesQuery): Promise<StackValue[]>;
  /** Symbols for exactly these stacks (cached by id: content ids never change meaning). */
  resolveStacks(tenant: string, stackIds: readonly Id[]): Promise<ResolvedStacks>;
  /** Time series of totals, bucketed and grouped in the engine. */
  seriesPoints(q: SeriesPointsQuery): Promise<SeriesPoints[]>;

  /** Drops whole day partitions older than `olderThanMs`; returns how many days were dropped. */
  dropBefore(olderThanMs: number): Promise<number>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
