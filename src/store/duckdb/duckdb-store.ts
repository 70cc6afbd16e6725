import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Id, Labels, Profile, ProfileType } from '../../model/index.js';
import { parseProfileType } from '../../model/index.js';
import { OTHER_STACK_ID } from '../store.js';
import type {
  GroupedMergeQuery,
  GroupedStacks,
  MergeQuery,
  ResolvedStacks,
  SeriesInfo,
  SeriesPoints,
  SeriesPointsQuery,
  SeriesQuery,
  StackValue,
  Store,
  StoreStats,
  WriteResult,
} from '../store.js';
import { mergeStacks, seriesPoints } from './read.js';
import { bytesOnDisk, countRows, dropDaysBefore } from './retention.js';
import { createSchema, listDays } from './schema.js';
import { SeriesRegistry } from './series-registry.js';
import type { SeriesRecord } from './series-registry.js';
import { SerialQueue, big, num, str } from './sql.js';
import { SymbolReader } from './symbol-reader.js';
import { SymbolWriter } from './symbol-writer.js';
import { RecentProfiles } from './recent-profiles.js';
import type { WriteCall } from './write.js';
import { checkWriteInput, writeCalls } from './write.js';

export const DATABASE_FILE = 'kiln.duckdb';

/** A group commit stops taking queued calls past this many sample rows (bounds transaction memory). */
const MAX_ROWS_PER_COMMIT = 500_000;

interface QueuedWrite extends WriteCall {
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

export interface DuckDBStoreOptions {
  /** DuckDB worker threads (default: DuckDB's own, one per core). */
  readonly threads?: number;
  /** DuckDB memory limit, e.g. '1GB' (default: DuckDB's own, 80 % of RAM). */
  readonly memoryLimit?: string;
  /**
   * Bound of each in-memory "already stored" id set (symbols and recent profiles). Past it the store
   * falls back to asking the database; tests set it tiny to exercise that path.
   */
  readonly knownIdsCapacity?: number;
}

/**
 * The embedded engine: one DuckDB file in the data directory. Writes go through one connection in
 * a queue (DuckDB serializes writers anyway) and concurrent calls share a commit; each read opens
 * its own connection so queries run in parallel with writes and see only committed data.
 */
export class DuckDBStore implements Store {
  private readonly writes = new SerialQueue();
  private readonly reader = new SymbolReader();
  private readonly queued: QueuedWrite[] = [];
  private draining = false;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly dbFile: string,
    private readonly registry: SeriesRegistry,
    private readonly symbols: SymbolWriter,
    private readonly days: Set<number>,
    private readonly recent: RecentProfiles,
  ) {}

  private get writeContext() {
    return { conn: this.writer, registry: this.registry, symbols: this.symbols, recent: this.recent, days: this.days };
  }

  static async open(dir: string, opts: DuckDBStoreOptions = {}): Promise<DuckDBStore> {
    mkdirSync(dir, { recursive: true });
    const dbFile = path.join(dir, DATABASE_FILE);
    const config: Record<string, string> = {};
    if (opts.threads !== undefined) config['threads'] = String(opts.threads);
    if (opts.memoryLimit !== undefined) config['memory_limit'] = opts.memoryLimit;
    const instance = await DuckDBInstance.create(dbFile, config);
    const conn = await instance.connect();
    try {
      await createSchema(conn);
      const registry = await loadSeries(conn);
      const symbols = await SymbolWriter.open(conn, opts.knownIdsCapacity);
      const days = new Set(await listDays(conn));
      const recent = await RecentProfiles.load(conn, opts.knownIdsCapacity);
      return new DuckDBStore(instance, conn, dbFile, registry, symbols, days, recent);
    } catch (e) {
      conn.closeSync();
      instance.closeSync();
      throw e;
    }
  }

  write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult> {
    try {
      this.checkOpen();
      checkWriteInput(tenant, profiles); // bad input fails alone, before it can join a group commit
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ tenant, profiles, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        void this.writes.run(() => this.drain());
      }
    });
  }

  /**
   * Group commit: calls that queued while the previous transaction ran are written together, one
   * log sync for all. If that transaction fails, each call is retried alone so every caller gets
   * its own outcome and an atomic write.
   */
  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const batch: QueuedWrite[] = [];
      let rows = 0;
      while (this.queued.length > 0 && (batch.length === 0 || rows < MAX_ROWS_PER_COMMIT)) {
        const next = this.queued.shift()!;
        batch.push(next);
        for (const p of next.profiles) rows += p.stacks.length;
      }
      try {
        const results = await writeCalls(this.writeContext, batch);
        batch.forEach((c, i) => c.resolve(results[i]!));
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
        else for (const c of batch) await writeCalls(this.writeContext, [c]).then(([r]) => c.resolve(r!), c.reject);
      }
    }
    this.draining = false;
  }

  async profileTypes(q: SeriesQuery): Promise<ProfileType[]> {
    this.checkOpen();
    const byId = new Map<string, ProfileType>();
    for (const s of this.registry.select(q.tenant, q.selector, q)) byId.set(s.typeId, s.type);
    return [...byId.keys()].sort().map((k) => byId.get(k)!);
  }

  async labelNames(q: SeriesQuery): Promise<string[]> {
    this.checkOpen();
    const names = new Set<string>();
    for (const s of this.registry.select(q.tenant, q.selector, q)) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  async labelValues(q: SeriesQuery, name: string): Promise<string[]> {
    this.checkOpen();
    const values = new Set<string>();
    for (const s of this.registry.select(q.tenant, q.selector, q)) for (const l of s.labels) if (l.name === name) values.add(l.value);
    return [...values].sort();
  }

  async series(q: SeriesQuery): Promise<SeriesInfo[]> {
    this.checkOpen();
    return this.registry
      .select(q.tenant, q.selector, q)
      .map((s) => ({ id: s.id, profileType: s.type, labels: s.labels }))
      .sort((a, b) => compareLabels(a.labels, b.labels));
  }

  async mergeStacks(q: MergeQuery): Promise<StackValue[]> {
    this.checkOpen();
    const rows = await this.withReader((c) => mergeStacks(c, this.days, this.registry.select(q.tenant, q.selector, q), q));
    return limitStacks(rows, q.limit ?? 0);
  }

  async mergeStacksGrouped(q: GroupedMergeQuery): Promise<GroupedStacks[]> {
    this.checkOpen();
    const groups = new Map<string, { labels: Labels; series: SeriesRecord[] }>();
    for (const s of this.registry.select(q.tenant, q.selector, q)) {
      const labels = s.labels.filter((l) => q.groupBy.includes(l.name));
      const k = JSON.stringify(labels);
      const g = groups.get(k) ?? { labels, series: [] };
      g.series.push(s);
      groups.set(k, g);
    }
    const out: GroupedStacks[] = [];
    for (const g of groups.values()) {
      const rows = await this.withReader((c) => mergeStacks(c, this.days, g.series, q));
      out.push({ labels: g.labels, stacks: limitStacks(rows, q.limit ?? 0) });
    }
    return out;
  }

  async health(): Promise<void> {
    this.checkOpen();
    await this.withReader((c) => c.run('SELECT 1'));
  }

  resolveStacks(_tenant: string, stackIds: readonly Id[]): Promise<ResolvedStacks> {
    this.checkOpen();
    // Symbols are shared content (ids are hashes of what they name), not tenant data: a tenant can
    // only ask for ids it already got from its own merge.
    return this.withReader((c) => this.reader.resolve(c, stackIds));
  }

  seriesPoints(q: SeriesPointsQuery): Promise<SeriesPoints[]> {
    this.checkOpen();
    return this.withReader((c) => seriesPoints(c, this.registry.select(q.tenant, q.selector, q), q));
  }

  dropBefore(olderThanMs: number): Promise<number> {
    this.checkOpen();
    return this.writes.run(() => dropDaysBefore(this.writer, this.days, this.registry, olderThanMs));
  }

  async stats(): Promise<StoreStats> {
    this.checkOpen();
    const rows = await this.withReader((c) => countRows(c, this.days));
    return { series: this.registry.size, rows, bytesOnDisk: bytesOnDisk(this.dbFile) };
  }

  /** Folds the write-ahead log into the database file (benchmarks measure bytes after this). */
  checkpoint(): Promise<void> {
    this.checkOpen();
    return this.writes.run(async () => {
      await this.writer.run('CHECKPOINT');
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.run(async () => undefined);
    this.writer.closeSync();
    this.instance.closeSync();
  }

  /**
   * Runs a read on a connection of its own. A read that picked its day tables just before retention
   * dropped one fails with a catalog error; it is retried once, by then against the current days.
   */
  private async withReader<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.instance.connect();
      try {
        return await fn(c);
      } catch (e) {
        if (attempt > 0 || !/Catalog Error/.test(String(e))) throw e;
      } finally {
        c.closeSync();
      }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

function limitStacks(rows: StackValue[], limit: number): StackValue[] {
  if (limit <= 0 || rows.length <= limit) return rows;
  rows.sort((a, b) => b.value - a.value);
  const rest = rows.slice(limit).reduce((a, r) => a + r.value, 0);
  return [...rows.slice(0, limit), { stackId: OTHER_STACK_ID, value: rest }];
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
    registry.add({
      key: num(key!),
      id: big(id!),
      tenant: str(tenant!),
      type: parseProfileType(str(typeId!)),
      typeId: str(typeId!),
      labels: JSON.parse(str(labels!)) as Labels,
      firstMs: first === null ? Infinity : num(first!),
      lastMs: last === null ? -Infinity : num(last!),
    });
  }
  return registry;
}

function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name) return x.name < y.name ? -1 : 1;
    if (x.value !== y.value) return x.value < y.value ? -1 : 1;
  }
  return a.length - b.length;
}
