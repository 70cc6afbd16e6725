import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, DuckDBInstance, LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { Id, Labels } from '../../model/index.js';
import { Unavailable, parseProfileType } from '../../model/index.js';
import type { CommitBatch, Engine, ListedProfileRow, ListedSpanRow, ProfileCounts, ProfileMerge, SeriesRecord, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from '../engine.js';
import type { StackValue, StoreStats, TimeRange } from '../store.js';
import { countProfiles, listProfiles, listSpans, mergeProfileStacks, mergeSpanStacks, mergeStacks, seriesPoints } from './read.js';
import { bytesOnDisk, countRows, dropDaysBefore } from './retention.js';
import { HourlyRollup } from './rollup.js';
import { createSchema, listDays } from './schema.js';
import type { KeyedSeries } from './series-registry.js';
import { SeriesRegistry } from './series-registry.js';
import { SerialQueue, big, num, selectByIds, str } from './sql.js';
import { SYMBOL_TABLES, StackKeys, fetchSymbolRows } from './symbols.js';
import { commitBatch } from './write.js';

export const DATABASE_FILE = 'kiln.duckdb';

/** Ids kept in memory for stack keys before misses go to the table (≈ 25 MB). */
const STACK_KEYS_CAPACITY = 250_000;

/** How often the roller looks for finished hours to roll up. */
const ROLLUP_EVERY_MS = 60_000;

export interface DuckDBEngineOptions {
  /** DuckDB worker threads (default: DuckDB's own, one per core). */
  readonly threads?: number;
  /** DuckDB memory limit, e.g. '1GB' (default: DuckDB's own, 80 % of RAM). */
  readonly memoryLimit?: string;
  /** Bound of the in-memory stack-key map; tests set it tiny to exercise the table path. */
  readonly knownIdsCapacity?: number;
  /** Roll finished hours up in the background (default true; tests turn it off to roll by hand). */
  readonly rollup?: boolean;
  /** WAL size that triggers an automatic checkpoint, e.g. '256KB' (default DuckDB's 16MB); tests make checkpoints happen. */
  readonly checkpointThreshold?: string;
}

/**
 * The embedded engine: one DuckDB file in the data directory, this process its only writer. Writes go
 * through one connection in a queue (DuckDB serializes writers anyway); each read opens its own
 * connection, so queries run in parallel with writes and see only committed data, and an aborted
 * read interrupts just its own connection.
 */
export class DuckDBEngine implements Engine {
  readonly name = 'duckdb';
  readonly sharedWriters = false;
  private readonly writes = new SerialQueue();
  private closed = false;
  private rollTimer: NodeJS.Timeout | undefined;

  /** Set while the database is being reopened after DuckDB invalidated it (reopen()). */
  private reopening: Promise<void> | undefined;
  private opts: DuckDBEngineOptions = {};

  // Not readonly: reopen() replaces them with a fresh instance's after DuckDB invalidated the old one.
  private constructor(
    private instance: DuckDBInstance,
    private writer: DuckDBConnection,
    private readonly dbFile: string,
    private registry: SeriesRegistry,
    private stackKeys: StackKeys,
    private days: Set<number>,
    private rollup: HourlyRollup,
  ) {}

  static async open(dir: string, opts: DuckDBEngineOptions = {}): Promise<DuckDBEngine> {
    mkdirSync(dir, { recursive: true });
    const dbFile = path.join(dir, DATABASE_FILE);
    const config: Record<string, string> = {};
    if (opts.threads !== undefined) config['threads'] = String(opts.threads);
    if (opts.memoryLimit !== undefined) config['memory_limit'] = opts.memoryLimit;
    if (opts.checkpointThreshold !== undefined) config['checkpoint_threshold'] = opts.checkpointThreshold;
    const instance = await DuckDBInstance.create(dbFile, config);
    const conn = await instance.connect();
    try {
      await createSchema(conn);
      const registry = await loadSeries(conn);
      const stackKeys = await StackKeys.load(conn, opts.knownIdsCapacity ?? STACK_KEYS_CAPACITY);
      const days = new Set(await listDays(conn));
      const rollup = await HourlyRollup.load(conn);
      const engine = new DuckDBEngine(instance, conn, dbFile, registry, stackKeys, days, rollup);
      engine.opts = opts;
      if (opts.rollup !== false) engine.startRoller();
      return engine;
    } catch (e) {
      conn.closeSync();
      instance.closeSync();
      throw e;
    }
  }

  commit(batch: CommitBatch): Promise<void> {
    this.checkOpen();
    return this.writes.run(async () => {
      try {
        await this.rollup.unroll(this.writer, batch.profiles.map((p) => p.timeMs));
        await commitBatch({ conn: this.writer, registry: this.registry, stackKeys: this.stackKeys, days: this.days }, batch);
      } catch (e) {
        throw this.storageFailure(e);
      }
    });
  }

  /**
   * A full disk or a failed checkpoint is DuckDB's "invalidated" state: every later call fails until the
   * database is opened again. Such errors become Unavailable (503 + Retry-After, with DuckDB's message),
   * and the engine reopens itself in the background, retrying until the disk has room again.
   */
  private storageFailure(e: unknown): unknown {
    const message = (e as Error).message ?? String(e);
    if (!/invalidated|No space left on device|Could not write file|disk is full/i.test(message)) return e;
    if (/invalidated/i.test(message)) this.scheduleReopen();
    const why = /No space left|disk is full/i.test(message) ? 'the disk is full' : 'the database must be reopened';
    return new Unavailable(`DuckDB store at ${this.dbFile} cannot write: ${why} (${message.split('\n')[0]!.slice(0, 300)})`, 10);
  }

  private scheduleReopen(): void {
    if (this.reopening || this.closed) return;
    this.reopening = (async () => {
      for (let wait = 500; !this.closed; wait = Math.min(wait * 2, 10_000)) {
        try {
          await this.reopen();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, wait).unref());
        }
      }
    })().finally(() => {
      this.reopening = undefined;
    });
  }

  /** Closes the invalidated instance and opens the file again (replaying its WAL): what a restart would do. */
  private async reopen(): Promise<void> {
    try {
      this.writer.closeSync();
      this.instance.closeSync();
    } catch {
      // already unusable; the new instance is what matters
    }
    const fresh = await DuckDBEngine.open(path.dirname(this.dbFile), { ...this.opts, rollup: false });
    this.instance = fresh.instance;
    this.writer = fresh.writer;
    this.registry = fresh.registry;
    this.stackKeys = fresh.stackKeys;
    this.days = fresh.days;
    this.rollup = fresh.rollup;
  }

  /**
   * Rolls up finished hours now (the background roller does the same every minute); returns how many
   * hours it rolled. `nowMs` decides which hours are finished.
   */
  rollUp(nowMs = Date.now()): Promise<number> {
    this.checkOpen();
    return this.writes.run(() => this.rollup.rollPending(this.writer, this.days, nowMs));
  }

  private startRoller(): void {
    const tick = () => {
      if (this.closed) return;
      this.rollUp().then(
        (n) => {
          // Catch up on a backlog (a restart after days of data) a pass at a time, then idle.
          if (n > 0 && !this.closed) this.rollTimer = setTimeout(tick, 1000).unref();
          else if (!this.closed) this.rollTimer = setTimeout(tick, ROLLUP_EVERY_MS).unref();
        },
        () => {
          if (!this.closed) this.rollTimer = setTimeout(tick, ROLLUP_EVERY_MS).unref();
        },
      );
    };
    this.rollTimer = setTimeout(tick, 1000).unref();
  }

  async storedProfiles(ids: readonly Id[], fromMs: number, toMs: number): Promise<Set<Id>> {
    if (ids.length === 0) return new Set();
    // Zone maps on time_ms keep the scan to the blocks of that window.
    const r = await this.withReader(undefined, (c) =>
      c.runAndReadAll(
        'SELECT profile_id FROM profiles WHERE time_ms BETWEEN $2 AND $3 AND profile_id IN (SELECT unnest($1))',
        [listValue(ids as Id[]), BigInt(Math.floor(fromMs)), BigInt(Math.ceil(toMs))],
        [LIST(UBIGINT), BIGINT, BIGINT],
      ),
    );
    return new Set(r.getRows().map(([id]) => big(id!)));
  }

  async recentProfiles(windowMs: number): Promise<{ ids: { id: Id; timeMs: number }[]; floorMs: number }> {
    return this.withReader(undefined, async (c) => {
      const max = (await c.runAndReadAll('SELECT max(time_ms) FROM profiles')).getRows()[0]![0]!;
      if (max === null) return { ids: [], floorMs: -Infinity };
      const floorMs = num(max) - windowMs;
      const rows = await c.runAndReadAll('SELECT profile_id, time_ms FROM profiles WHERE time_ms >= $1', [BigInt(floorMs)], [BIGINT]);
      return { ids: rows.getRows().map(([id, t]) => ({ id: big(id!), timeMs: num(t!) })), floorMs };
    });
  }

  async storedSymbols(kind: SymbolKind, ids: readonly Id[]): Promise<Set<Id>> {
    const { table, id } = SYMBOL_TABLES[kind];
    const rows = await this.withReader(undefined, (c) => selectByIds(c, table, id, id, ids));
    return new Set(rows.map(([x]) => big(x!)));
  }

  async listSymbolIds(kind: SymbolKind, max: number): Promise<Id[] | undefined> {
    const { table, id } = SYMBOL_TABLES[kind];
    return this.withReader(undefined, async (c) => {
      const n = num((await c.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0]!);
      if (n > max) return undefined;
      return (await c.runAndReadAll(`SELECT ${id} FROM ${table}`)).getRows().map(([x]) => big(x!));
    });
  }

  async series(tenant: string, range: TimeRange, profileType: string): Promise<SeriesRecord[]> {
    this.checkOpen();
    return this.registry.inRange(tenant, range, profileType);
  }

  mergeStacks(_tenant: string, groups: readonly (readonly Id[])[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<StackValue[][]> {
    const keys = groups.map((g) => this.keysOf(g));
    const plan = this.rollup.plan(range);
    return this.withReader(signal, (c) => mergeStacks(c, this.days, keys, plan, limit));
  }

  seriesPoints(
    _tenant: string,
    groups: readonly (readonly Id[])[],
    range: TimeRange,
    stepMs: number,
    aggregation: 'sum' | 'avg',
    signal?: AbortSignal,
  ): Promise<{ timeMs: number; value: number }[][]> {
    const keys = groups.map((g) => this.keysOf(g));
    return this.withReader(signal, (c) => seriesPoints(c, keys, range, stepMs, aggregation));
  }

  async listProfiles(_tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedProfileRow[]> {
    const idOfKey = this.idsByKey(seriesIds);
    const rows = await this.withReader(signal, (c) => listProfiles(c, [...idOfKey.keys()], range, limit));
    return rows.map((r) => ({ id: r.id, seriesId: idOfKey.get(r.seriesKey)!, timeMs: r.timeMs, total: r.total }));
  }

  async listSpans(_tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedSpanRow[]> {
    const idOfKey = this.idsByKey(seriesIds);
    const rows = await this.withReader(signal, (c) => listSpans(c, [...idOfKey.keys()], range, limit));
    return rows.map((r) => ({ spanId: r.spanId, seriesId: idOfKey.get(r.seriesKey)!, timeMs: r.timeMs, total: r.total }));
  }

  mergeProfileStacks(_tenant: string, seriesIds: readonly Id[], range: TimeRange, profileIds: readonly Id[], signal?: AbortSignal): Promise<ProfileMerge> {
    const keys = this.keysOf(seriesIds);
    return this.withReader(signal, (c) => mergeProfileStacks(c, this.days, keys, range, profileIds));
  }

  mergeSpanStacks(_tenant: string, seriesIds: readonly Id[], range: TimeRange, spanIds: readonly Id[], signal?: AbortSignal): Promise<StackValue[]> {
    const keys = this.keysOf(seriesIds);
    return this.withReader(signal, (c) => mergeSpanStacks(c, keys, range, spanIds));
  }

  countProfiles(_tenant: string, seriesIds: readonly Id[], range: TimeRange, signal?: AbortSignal): Promise<ProfileCounts> {
    const keys = this.keysOf(seriesIds);
    return this.withReader(signal, (c) => countProfiles(c, keys, range));
  }

  fetchSymbols(kind: 'stacks', ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[]>;
  fetchSymbols(kind: 'locations', ids: readonly Id[], signal?: AbortSignal): Promise<StoredLocation[]>;
  fetchSymbols(kind: 'functions', ids: readonly Id[], signal?: AbortSignal): Promise<StoredFunction[]>;
  fetchSymbols(kind: 'mappings', ids: readonly Id[], signal?: AbortSignal): Promise<StoredMapping[]>;
  fetchSymbols(kind: SymbolKind, ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[] | StoredLocation[] | StoredFunction[] | StoredMapping[]> {
    return this.withReader(signal, (c) => fetchSymbolRows(c, kind, ids));
  }

  dropBefore(olderThanMs: number): Promise<number> {
    this.checkOpen();
    return this.writes.run(() => dropDaysBefore(this.writer, this.days, this.registry, this.rollup, olderThanMs));
  }

  async stats(): Promise<StoreStats> {
    const rows = await this.withReader(undefined, (c) => countRows(c, this.days));
    return { series: this.registry.size, rows, bytesOnDisk: bytesOnDisk(this.dbFile) };
  }

  async health(): Promise<void> {
    if (this.reopening) throw new Unavailable(`DuckDB store at ${this.dbFile} is being reopened after a storage failure`);
    try {
      await this.withReader(undefined, (c) => c.run('SELECT 1'));
    } catch (e) {
      this.storageFailure(e);
      throw new Unavailable(`DuckDB store at ${this.dbFile} cannot answer: ${(e as Error).message}`);
    }
  }

  /** Folds the write-ahead log into the database file (benchmarks measure bytes after this). */
  checkpoint(): Promise<void> {
    this.checkOpen();
    return this.writes.run(async () => {
      try {
        await this.writer.run('CHECKPOINT');
      } catch (e) {
        throw this.storageFailure(e);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.rollTimer);
    await this.writes.run(async () => undefined);
    this.writer.closeSync();
    this.instance.closeSync();
  }

  /** Surrogate key → content id of the series this engine has among `ids`. */
  private idsByKey(ids: readonly Id[]): Map<number, Id> {
    const out = new Map<number, Id>();
    for (const id of ids) {
      const s = this.registry.get(id);
      if (s) out.set(s.key, id);
    }
    return out;
  }

  private keysOf(ids: readonly Id[]): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const s = this.registry.get(id);
      if (s) out.push(s.key);
    }
    return out;
  }

  /**
   * Runs a read on a connection of its own; an abort interrupts that connection's query. A read that
   * picked its day tables just before retention dropped one fails with a catalog error; it is retried
   * once, by then against the current days.
   */
  private async withReader<T>(signal: AbortSignal | undefined, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    this.checkOpen();
    signal?.throwIfAborted();
    for (let attempt = 0; ; attempt++) {
      const c = await this.instance.connect();
      const interrupt = () => c.interrupt();
      signal?.addEventListener('abort', interrupt, { once: true });
      try {
        return await fn(c);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        if (attempt > 0 || !/Catalog Error/.test(String(e))) throw this.storageFailure(e);
      } finally {
        signal?.removeEventListener('abort', interrupt);
        c.closeSync();
      }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

async function loadSeries(conn: DuckDBConnection): Promise<SeriesRegistry> {
  const registry = new SeriesRegistry();
  const r = await conn.runAndReadAll(
    `SELECT s.series_key, s.series_id, s.tenant, s.profile_type, s.labels, b.first_ms, b.last_ms
     FROM series s LEFT JOIN (
       SELECT series_key, min(time_ms) AS first_ms, max(time_ms) AS last_ms FROM profiles GROUP BY series_key
     ) b USING (series_key)`,
  );
  for (const [key, id, tenant, typeId, labels, first, last] of r.getRows()) {
    const rec: KeyedSeries = {
      key: num(key!),
      id: big(id!),
      tenant: str(tenant!),
      type: parseProfileType(str(typeId!)),
      typeId: str(typeId!),
      labels: JSON.parse(str(labels!)) as Labels,
      firstMs: first === null ? Infinity : num(first!),
      lastMs: last === null ? -Infinity : num(last!),
    };
    registry.add(rec);
  }
  return registry;
}
