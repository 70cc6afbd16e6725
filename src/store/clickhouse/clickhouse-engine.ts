import type { ClickHouseSettings } from '@clickhouse/client';
import type { Id } from '../../model/index.js';
import { Unavailable } from '../../model/index.js';
import type {
  CommitBatch,
  CommitPacing,
  Engine,
  ListedProfileRow,
  ListedSpanRow,
  ProfileCounts,
  ProfileLookupHint,
  ProfileMerge,
  SeriesRecord,
  StoredFunction,
  StoredLocation,
  StoredMapping,
  StoredStack,
  SymbolKind,
} from '../engine.js';
import type { StackValue, StoreStats, TimeRange } from '../store.js';
import type { ConnectionOptions } from './connection.js';
import { Connection, parseVersion } from './connection.js';
import { fetchFunctions, fetchLocations, fetchMappings, fetchStacks, recentProfiles, storedProfiles, storedSymbols } from './lookups.js';
import type { Reader } from './read.js';
import { countProfiles, listProfiles, listSeries, listSpans, mergeProfileStacks, mergeSpanStacks, mergeStacks, seriesPoints } from './read.js';
import type { Features, MigrationReport } from './schema.js';
import { featuresOf, Layout, migrate } from './schema.js';
import { dropDaysBefore, stats } from './upkeep.js';
import { checkClusterName, parseClickHouseUrl } from './url.js';
import type { Writer } from './write.js';
import { commit } from './write.js';

export interface ClickHouseEngineOptions extends ConnectionOptions {
  /** `--clickhouse-cluster NAME`: Replicated local tables + Distributed tables over `remote_servers`. */
  readonly cluster?: string;
  /** `--retention`: on servers with TTL it is also set as the tables' TTL (partitions are dropped either way). */
  readonly retentionMs?: number;
}

const HEALTH_TIMEOUT_MS = 5_000;

/**
 * The ClickHouse engine: N stateless Kiln servers write and read one ClickHouse (or cluster).
 * Everything engine-neutral — validation, content ids, replay detection, matching, grouping,
 * symbol caching — is done above it by EngineStore; here are only the SQL, the connection and the
 * physical layout (schema.ts says why it is laid out so).
 */
export class ClickHouseEngine implements Engine {
  readonly name = 'clickhouse';
  /** Other servers write the same database: what this process remembers is never the whole truth. */
  readonly sharedWriters = true;
  /**
   * Every INSERT makes a part per table (and per rollup) that ClickHouse merges in the background, so
   * inserts are few and large: a commit starts at most every 250 ms and gathers up to 100 000 rows
   * (measured: one commit per push made ClickHouse use more CPU than the Kiln servers feeding it).
   */
  readonly commitPacing: CommitPacing = { rows: 100_000, gatherMs: 20, minIntervalMs: 250 };
  private readonly reader: Reader;
  private readonly writer: Writer;

  private constructor(
    private readonly conn: Connection,
    readonly layout: Layout,
    readonly features: Features,
    /** What the migration at open did. */
    readonly migration: MigrationReport,
  ) {
    this.reader = { conn, layout };
    const insertSettings: ClickHouseSettings = layout.cluster ? { insert_distributed_sync: 1 } : {};
    this.writer = { conn, layout, insertSettings };
  }

  /** Connects to `clickhouse://user:pass@host:8123/db`, creates or migrates the schema, and is ready. */
  static async open(url: string, opts: ClickHouseEngineOptions = {}): Promise<ClickHouseEngine> {
    return ClickHouseEngine.connect(url, opts, false);
  }

  /**
   * `kiln migrate`: runs every schema statement (creating what is missing, on every server of the
   * cluster) and says what it did.
   */
  static async migrate(url: string, opts: ClickHouseEngineOptions = {}): Promise<{ report: MigrationReport; version: string; address: string }> {
    const engine = await ClickHouseEngine.connect(url, opts, true);
    await engine.close();
    return { report: engine.migration, version: engine.features.version.text, address: engine.conn.location.address };
  }

  private static async connect(url: string, opts: ClickHouseEngineOptions, force: boolean): Promise<ClickHouseEngine> {
    const location = parseClickHouseUrl(url);
    const cluster = opts.cluster === undefined || opts.cluster === '' ? undefined : checkClusterName(opts.cluster);
    const conn = new Connection(location, opts);
    try {
      const [row] = await conn.query<{ v: string }>('SELECT version() AS v', AbortSignal.timeout(HEALTH_TIMEOUT_MS)).catch((e: unknown) => {
        throw isTimeout(e) ? asUnavailable(conn, e) : e;
      });
      const features = featuresOf(parseVersion(row?.v ?? '0.0'));
      const layout = new Layout(location.database, cluster);
      const report = await migrate(conn, layout, features, { force, retentionMs: opts.retentionMs });
      return new ClickHouseEngine(conn, layout, features, report);
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  commit(batch: CommitBatch): Promise<void> {
    return commit(this.writer, batch);
  }

  storedProfiles(ids: readonly Id[], fromMs: number, toMs: number, where?: ProfileLookupHint): Promise<Set<Id>> {
    return storedProfiles(this.reader, ids, fromMs, toMs, where);
  }

  recentProfiles(windowMs: number): Promise<{ ids: { id: Id; timeMs: number }[]; floorMs: number }> {
    return recentProfiles(this.reader, windowMs);
  }

  storedSymbols(kind: SymbolKind, ids: readonly Id[]): Promise<Set<Id>> {
    return storedSymbols(this.reader, kind, ids);
  }

  series(tenant: string, range: TimeRange, profileType: string, signal?: AbortSignal): Promise<SeriesRecord[]> {
    return listSeries(this.reader, tenant, range, profileType, signal);
  }

  mergeStacks(tenant: string, groups: readonly (readonly Id[])[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<StackValue[][]> {
    return mergeStacks(this.reader, tenant, groups, range, limit, signal);
  }

  seriesPoints(
    tenant: string,
    groups: readonly (readonly Id[])[],
    range: TimeRange,
    stepMs: number,
    aggregation: 'sum' | 'avg',
    signal?: AbortSignal,
  ): Promise<{ timeMs: number; value: number }[][]> {
    return seriesPoints(this.reader, tenant, groups, range, stepMs, aggregation, signal);
  }

  listProfiles(tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedProfileRow[]> {
    return listProfiles(this.reader, tenant, seriesIds, range, limit, signal);
  }

  listSpans(tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedSpanRow[]> {
    return listSpans(this.reader, tenant, seriesIds, range, limit, signal);
  }

  mergeProfileStacks(tenant: string, seriesIds: readonly Id[], range: TimeRange, profileIds: readonly Id[], signal?: AbortSignal): Promise<ProfileMerge> {
    return mergeProfileStacks(this.reader, tenant, seriesIds, range, profileIds, signal);
  }

  mergeSpanStacks(tenant: string, seriesIds: readonly Id[], range: TimeRange, spanIds: readonly Id[], signal?: AbortSignal): Promise<StackValue[]> {
    return mergeSpanStacks(this.reader, tenant, seriesIds, range, spanIds, signal);
  }

  countProfiles(tenant: string, seriesIds: readonly Id[], range: TimeRange, signal?: AbortSignal): Promise<ProfileCounts> {
    return countProfiles(this.reader, tenant, seriesIds, range, signal);
  }

  fetchSymbols(kind: 'stacks', ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[]>;
  fetchSymbols(kind: 'locations', ids: readonly Id[], signal?: AbortSignal): Promise<StoredLocation[]>;
  fetchSymbols(kind: 'functions', ids: readonly Id[], signal?: AbortSignal): Promise<StoredFunction[]>;
  fetchSymbols(kind: 'mappings', ids: readonly Id[], signal?: AbortSignal): Promise<StoredMapping[]>;
  fetchSymbols(kind: SymbolKind, ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[] | StoredLocation[] | StoredFunction[] | StoredMapping[]> {
    switch (kind) {
      case 'stacks':
        return fetchStacks(this.reader, ids, signal);
      case 'locations':
        return fetchLocations(this.reader, ids, signal);
      case 'functions':
        return fetchFunctions(this.reader, ids, signal);
      case 'mappings':
        return fetchMappings(this.reader, ids, signal);
    }
  }

  dropBefore(olderThanMs: number): Promise<number> {
    return dropDaysBefore(this.reader, olderThanMs);
  }

  stats(): Promise<StoreStats> {
    return stats(this.reader);
  }

  /** `SELECT 1` within 5 s, else Unavailable naming the store. */
  async health(): Promise<void> {
    try {
      await this.conn.query('SELECT 1 AS ok', AbortSignal.timeout(HEALTH_TIMEOUT_MS));
    } catch (e) {
      throw asUnavailable(this.conn, e);
    }
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && e.name === 'TimeoutError';
}

/** A failure to reach the store, whatever its shape (a timeout's abort reason included), as Unavailable. */
function asUnavailable(conn: Connection, e: unknown): Unavailable {
  if (e instanceof Unavailable) return e;
  const message = e instanceof Error ? e.message : String(e);
  const why = isTimeout(e) ? `no answer within ${HEALTH_TIMEOUT_MS} ms` : message.replace(`${conn.name}: `, '');
  return new Unavailable(`${conn.name} is unavailable: ${why}`);
}
