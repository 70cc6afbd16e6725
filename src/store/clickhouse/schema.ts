import type { ClickHouseSettings } from '@clickhouse/client';
import type { Connection, ServerVersion } from './connection.js';
import { atLeast } from './connection.js';

/**
 * Tables of the ClickHouse engine, and their idempotent migration.
 *
 * Keys are the model's content ids (UInt64 hashes): no surrogate keys, so any number of Kiln servers
 * write one database without coordinating, and a replayed batch produces the same rows.
 *
 * samples (tenant, series_id, time_ms, stack_id, scaled, scale), one row per (profile, stack):
 * - PARTITION BY day (`intDiv(time_ms, 86400000)`, a UTC day number): retention is
 *   `ALTER TABLE … DROP PARTITION`, which unlinks the day's parts at once (no rewrite, no mutation),
 *   and a range prunes to the days it touches.
 * - ORDER BY (tenant, series_id, hour, stack_id, time_ms). A merge asks for `series_id IN (…)` and a
 *   time range; the series ids come from the selector (each implies its profile type, so the type
 *   is not a key column). Whole hours and days are answered from the rollups below, so raw rows are
 *   only read for the ragged edges of a range, which the (series, hour) prefix finds without
 *   scanning the day. Inside an hour, rows of one stack from every profile sit together: the 8-byte
 *   stack hash repeats instead of looking random, and the GROUP BY stack_id meets sorted input.
 * - Values are `scaled × scale` with `scale` the profile's gcd (CPU: counts × 52 631 578 ns): both
 *   Float64, so integers stay exact up to 2^53 and fractional values (e.g. 0.25 s) survive.
 * - Measured (18.16, one series, 600 of 4 000 stacks per 10 s profile, counts 1–20, 5.2 M rows/day):
 *   5.7 B per raw row with the default LZ4 (time_ms 2.8 B, scaled 2.5 B, stack_id 0.23 B); the same
 *   rows ordered by (series, time, stack) take 8.3 B, the stack hash alone 5.6 B. With ZSTD (server
 *   `<compression>` on 18.16; column codecs Delta+ZSTD here on ≥ 20.1) they take 3.1 B.
 *
 * Rollups, filled by materialized views as rows arrive (the same INSERT, no background job):
 * - samples_1h / samples_1d: SummingMergeTree of value per (tenant, series, hour|day, stack). A merge
 *   over 30 days reads ~30 rows per (series, stack) instead of ~260 000 raw ones.
 * - profiles_1h / profiles_1d: AggregatingMergeTree per (tenant, hour|day, profile type, series): first
 *   and last time, total, profile count. Series listings and time series of totals read these.
 *   Partitioned by the same day number as the raw tables, so retention drops them in step.
 * A range is split into whole days (1d), whole hours (1h) and raw edges (see ranges.ts); the sums
 * are the same as from raw rows, because every raw row lands in exactly one rollup row per level.
 *
 * profiles: one row per stored profile (profile id, series, time, duration, total): replay detection
 * by content id, and the raw edges of time series and series listings. ORDER BY (hour, tenant,
 * series_id, time_ms): every question to it names a time range (a replay check names the seconds
 * its batch spans, a listing edge an hour or two), and the hour prefix keeps each to those hours
 * instead of whole days of every series.
 *
 * Symbols (mappings, functions, locations, stacks) and series are ReplacingMergeTree by content id:
 * a repeated insert (two servers learning the same stack) collapses at merge time, and reads take
 * one row per id meanwhile. Series rows are kept forever (one small row per series); whether a
 * series has data in a range is decided by profiles_1h/1d, which retention does drop.
 *
 * Cluster (`--clickhouse-cluster NAME`): every table above becomes `<name>_local`, Replicated*
 * (ZooKeeper path /clickhouse/tables/{shard}/<db>/<table>, replica {replica}), created ON CLUSTER,
 * plus a Distributed `<name>` over it. Samples, profiles, series and their rollups are sharded by
 * series_id (a series lives on one shard, so per-shard GROUP BY partial sums merge cleanly and the
 * materialized views see whole series); symbols by their own id.
 *
 * The SQL is the subset that ClickHouse 18.16 (Debian's package, which the tests run) shares with
 * current releases; newer features (LowCardinality, codecs, TTL, non-replicated insert
 * deduplication) are switched on by `version()` — those branches are not exercised by the tests
 * here, which only have 18.16.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Rollup levels, coarsest first: the table suffix, its unit, and the column that numbers the unit. */
export const LEVELS = [
  { suffix: '1d', unitMs: DAY_MS, column: 'day' },
  { suffix: '1h', unitMs: HOUR_MS, column: 'hour' },
] as const;
export type Level = (typeof LEVELS)[number];

/** What the server can do, from `version()`. */
export interface Features {
  readonly version: ServerVersion;
  /** LowCardinality(String) without the experimental flag. */
  readonly lowCardinality: boolean;
  /** Column codecs (Delta, ZSTD). */
  readonly codecs: boolean;
  /** Table TTL (expired parts dropped by the server itself). */
  readonly ttl: boolean;
  /** Insert deduplication on non-replicated MergeTree (`non_replicated_deduplication_window`). */
  readonly nonReplicatedDedup: boolean;
  /** Servers that cancel a read when its HTTP client goes away. */
  readonly cancelOnClose: boolean;
}

export function featuresOf(version: ServerVersion): Features {
  return {
    version,
    lowCardinality: atLeast(version, 20, 1),
    codecs: atLeast(version, 20, 1),
    ttl: atLeast(version, 20, 1),
    nonReplicatedDedup: atLeast(version, 21, 1),
    cancelOnClose: atLeast(version, 20, 1),
  };
}

/** Names of the tables, for a single server or a cluster. */
export class Layout {
  constructor(
    readonly database: string,
    readonly cluster: string | undefined,
  ) {}

  /** The table reads and inserts name (Distributed in a cluster). */
  table(name: string): string {
    return `${this.database}.${name}`;
  }

  /** The table that holds the rows on this server (`<name>_local` in a cluster). */
  local(name: string): string {
    return this.cluster ? `${this.database}.${name}_local` : `${this.database}.${name}`;
  }

  localName(name: string): string {
    return this.cluster ? `${name}_local` : name;
  }

  get onCluster(): string {
    return this.cluster ? ` ON CLUSTER ${this.cluster}` : '';
  }

}

type Family = 'MergeTree' | 'ReplacingMergeTree' | 'SummingMergeTree' | 'AggregatingMergeTree';

interface TableSpec {
  readonly name: string;
  readonly columns: string;
  readonly family: Family;
  /** SummingMergeTree's summed columns. */
  readonly summed?: string;
  readonly partitionBy?: string;
  readonly orderBy: string;
  /** Distributed sharding key. */
  readonly shardBy: string;
  /** A Date/DateTime expression of a row's time, for TTL. */
  readonly ttlTime?: string;
}

interface ViewSpec {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly select: (from: string) => string;
}

/** One schema object and the statements that create it. */
export interface SchemaObject {
  readonly name: string;
  readonly statements: string[];
}

function tableSpecs(f: Features): TableSpec[] {
  const str = f.lowCardinality ? 'LowCardinality(String)' : 'String';
  const codec = (c: string) => (f.codecs ? ` CODEC(${c})` : '');
  const idCol = (name: string) => `${name} UInt64`;
  const specs: TableSpec[] = [
    {
      name: 'series',
      columns: `tenant ${str}, profile_type ${str}, series_id UInt64, label_names Array(String), label_values Array(String)`,
      family: 'ReplacingMergeTree',
      orderBy: '(tenant, profile_type, series_id)',
      shardBy: 'series_id',
    },
    {
      name: 'mappings',
      columns: `${idCol('mapping_id')}, binary String, build_id String`,
      family: 'ReplacingMergeTree',
      orderBy: 'mapping_id',
      shardBy: 'mapping_id',
    },
    {
      name: 'functions',
      columns: `${idCol('function_id')}, name String, system_name String, file String`,
      family: 'ReplacingMergeTree',
      orderBy: 'function_id',
      shardBy: 'function_id',
    },
    {
      // mapping_id NULL: no mapping known. function_ids/lines: the frames at this address, innermost first.
      name: 'locations',
      columns: `${idCol('location_id')}, mapping_id Nullable(UInt64), address UInt64, function_ids Array(UInt64), lines Array(Int64)`,
      family: 'ReplacingMergeTree',
      orderBy: 'location_id',
      shardBy: 'location_id',
    },
    {
      name: 'stacks',
      columns: `${idCol('stack_id')}, location_ids Array(UInt64)`,
      family: 'ReplacingMergeTree',
      orderBy: 'stack_id',
      shardBy: 'stack_id',
    },
    {
      name: 'samples',
      columns:
        `tenant ${str}, series_id UInt64, time_ms Int64${codec('Delta, ZSTD(1)')}, stack_id UInt64${codec('ZSTD(1)')}, ` +
        `scaled Float64${codec('ZSTD(1)')}, scale Float64`,
      family: 'MergeTree',
      partitionBy: `intDiv(time_ms, ${DAY_MS})`,
      orderBy: `(tenant, series_id, intDiv(time_ms, ${HOUR_MS}), stack_id, time_ms)`,
      shardBy: 'series_id',
      ttlTime: 'toDateTime(intDiv(time_ms, 1000))',
    },
    {
      name: 'profiles',
      columns:
        `tenant ${str}, profile_type ${str}, series_id UInt64, time_ms Int64${codec('Delta, ZSTD(1)')}, ` +
        'profile_id UInt64, duration_ns Int64, total Float64, rows UInt32',
      family: 'MergeTree',
      partitionBy: `intDiv(time_ms, ${DAY_MS})`,
      orderBy: `(intDiv(time_ms, ${HOUR_MS}), tenant, series_id, time_ms)`,
      shardBy: 'series_id',
      ttlTime: 'toDateTime(intDiv(time_ms, 1000))',
    },
    {
      // Samples recorded inside traced spans, inserted only for profiles that have any (a profile
      // without spans adds no row). Read by (series, span) within hours: Tempo asks for a few span ids.
      name: 'span_samples',
      columns: `tenant ${str}, series_id UInt64, time_ms Int64, span_id UInt64, stack_id UInt64, value Float64`,
      family: 'MergeTree',
      partitionBy: `intDiv(time_ms, ${DAY_MS})`,
      orderBy: `(tenant, series_id, intDiv(time_ms, ${HOUR_MS}), span_id)`,
      shardBy: 'series_id',
      ttlTime: 'toDateTime(intDiv(time_ms, 1000))',
    },
  ];
  for (const level of LEVELS) {
    const perDay = DAY_MS / level.unitMs;
    const unitSeconds = level.unitMs / 1000;
    specs.push(
      {
        name: `samples_${level.suffix}`,
        columns: `tenant ${str}, series_id UInt64, ${level.column} Int64, stack_id UInt64, value Float64`,
        family: 'SummingMergeTree',
        summed: '(value)',
        partitionBy: perDay === 1 ? level.column : `intDiv(${level.column}, ${perDay})`,
        orderBy: `(tenant, series_id, ${level.column}, stack_id)`,
        shardBy: 'series_id',
        ttlTime: `toDateTime(${level.column} * ${unitSeconds})`,
      },
      {
        name: `profiles_${level.suffix}`,
        columns:
          `tenant ${str}, ${level.column} Int64, profile_type ${str}, series_id UInt64, ` +
          'first_ms AggregateFunction(min, Int64), last_ms AggregateFunction(max, Int64), ' +
          'total AggregateFunction(sum, Float64), profiles AggregateFunction(count)',
        family: 'AggregatingMergeTree',
        partitionBy: perDay === 1 ? level.column : `intDiv(${level.column}, ${perDay})`,
        orderBy: `(tenant, ${level.column}, profile_type, series_id)`,
        shardBy: 'series_id',
        ttlTime: `toDateTime(${level.column} * ${unitSeconds})`,
      },
    );
  }
  return specs;
}

function viewSpecs(): ViewSpec[] {
  const views: ViewSpec[] = [];
  for (const level of LEVELS) {
    const unit = `intDiv(time_ms, ${level.unitMs})`;
    views.push(
      {
        name: `samples_${level.suffix}_mv`,
        from: 'samples',
        to: `samples_${level.suffix}`,
        select: (from) =>
          `SELECT tenant, series_id, ${unit} AS ${level.column}, stack_id, sum(scaled * scale) AS value ` +
          `FROM ${from} GROUP BY tenant, series_id, ${level.column}, stack_id`,
      },
      {
        name: `profiles_${level.suffix}_mv`,
        from: 'profiles',
        to: `profiles_${level.suffix}`,
        select: (from) =>
          `SELECT tenant, ${unit} AS ${level.column}, profile_type, series_id, minState(time_ms) AS first_ms, ` +
          'maxState(time_ms) AS last_ms, sumState(total) AS total, countState() AS profiles ' +
          `FROM ${from} GROUP BY tenant, ${level.column}, profile_type, series_id`,
      },
    );
  }
  return views;
}

/** The tables whose rows have a time, and so are partitioned by day: what retention drops. */
export function timedTables(): string[] {
  return ['samples', 'profiles', 'span_samples', ...LEVELS.flatMap((l) => [`samples_${l.suffix}`, `profiles_${l.suffix}`])];
}

function engineClause(t: TableSpec, layout: Layout): string {
  const args: string[] = [];
  let family: string = t.family;
  if (layout.cluster) {
    family = `Replicated${t.family}`;
    args.push(`'/clickhouse/tables/{shard}/${layout.database}/${layout.localName(t.name)}'`, `'{replica}'`);
  }
  if (t.summed) args.push(t.summed);
  return args.length > 0 ? `${family}(${args.join(', ')})` : family;
}

function tableSettings(t: TableSpec, layout: Layout, f: Features): string {
  const s: string[] = [];
  // Replicated tables deduplicate retried inserts through ZooKeeper; plain ones need the window.
  if (!layout.cluster && f.nonReplicatedDedup && t.family === 'MergeTree') s.push('non_replicated_deduplication_window = 1000');
  return s.length > 0 ? ` SETTINGS ${s.join(', ')}` : '';
}

/** Every object, in creation order (tables before the views that read and fill them). */
export function schemaObjects(layout: Layout, f: Features, retentionMs?: number): SchemaObject[] {
  const objects: SchemaObject[] = [{ name: layout.database, statements: [`CREATE DATABASE IF NOT EXISTS ${layout.database}${layout.onCluster}`] }];
  for (const t of tableSpecs(f)) {
    const ttl = f.ttl && retentionMs && t.ttlTime ? ` TTL ${ttlExpression(t.ttlTime, retentionMs)}` : '';
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${layout.local(t.name)}${layout.onCluster} (${t.columns}) ENGINE = ${engineClause(t, layout)}` +
        `${t.partitionBy ? ` PARTITION BY ${t.partitionBy}` : ''} ORDER BY ${t.orderBy}${ttl}${tableSettings(t, layout, f)}`,
    ];
    if (layout.cluster) {
      statements.push(
        `CREATE TABLE IF NOT EXISTS ${layout.table(t.name)}${layout.onCluster} AS ${layout.local(t.name)} ` +
          `ENGINE = Distributed(${layout.cluster}, ${layout.database}, ${layout.localName(t.name)}, ${t.shardBy})`,
      );
    }
    objects.push({ name: t.name, statements });
  }
  for (const v of viewSpecs()) {
    objects.push({
      name: v.name,
      statements: [
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${layout.local(v.name)}${layout.onCluster} TO ${layout.local(v.to)} AS ${v.select(layout.local(v.from))}`,
      ],
    });
  }
  return objects;
}

function ttlExpression(time: string, retentionMs: number): string {
  return `${time} + toIntervalSecond(${Math.ceil(retentionMs / 1000)})`;
}

/** What a migration did, one line per object, for `kiln migrate` and the server log. */
export interface MigrationReport {
  readonly created: string[];
  readonly present: string[];
  readonly ttl: string[];
  readonly notes: string[];
}

/**
 * Creates what is missing; leaves what exists. Safe to run from any number of servers at once
 * (every statement is IF NOT EXISTS). With `force` false it returns at once when every object is
 * present on the server it talks to: a server start then costs one query, and does not wait on
 * ON CLUSTER DDL (which waits for every host, down ones included).
 */
export async function migrate(
  conn: Connection,
  layout: Layout,
  f: Features,
  opts: { readonly force: boolean; readonly retentionMs?: number },
): Promise<MigrationReport> {
  const objects = schemaObjects(layout, f, opts.retentionMs);
  const existing = await existingNames(conn, layout);
  const missing = objects.filter((o) => !objectPresent(o.name, layout, existing));
  const report: MigrationReport = { created: [], present: [], ttl: [], notes: [] };
  if (!f.ttl && opts.retentionMs) {
    report.notes.push(`ClickHouse ${f.version.text} has no TTL: retention drops day partitions instead`);
  }
  if (missing.length > 0 || opts.force) {
    // Distributed DDL answers only once every host has run it; a cluster's first run takes a few seconds.
    const settings: ClickHouseSettings = layout.cluster ? { distributed_ddl_task_timeout: '120' } : {};
    for (const o of objects) {
      const wasPresent = objectPresent(o.name, layout, existing);
      for (const sql of o.statements) await conn.command(sql, settings);
      (wasPresent ? report.present : report.created).push(o.name);
    }
  } else {
    report.present.push(...objects.map((o) => o.name));
  }
  if (f.ttl && opts.retentionMs) report.ttl.push(...(await applyTtl(conn, layout, f, opts.retentionMs)));
  return report;
}

async function existingNames(conn: Connection, layout: Layout): Promise<Set<string>> {
  const dbs = await conn.query<{ name: string }>(`SELECT name FROM system.databases WHERE name = '${layout.database}'`);
  const names = new Set<string>();
  if (dbs.length === 0) return names;
  names.add(layout.database);
  for (const r of await conn.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${layout.database}'`)) names.add(r.name);
  return names;
}

function objectPresent(name: string, layout: Layout, existing: Set<string>): boolean {
  if (name === layout.database) return existing.has(name);
  if (!existing.has(layout.localName(name))) return false;
  // A view has no Distributed twin.
  return !layout.cluster || name.endsWith('_mv') || existing.has(name);
}

/** Sets the retention TTL on tables whose TTL differs (newer servers; parts expire whole). */
async function applyTtl(conn: Connection, layout: Layout, f: Features, retentionMs: number): Promise<string[]> {
  const rows = await conn.query<{ name: string; create_table_query: string }>(
    `SELECT name, create_table_query FROM system.tables WHERE database = '${layout.database}'`,
  );
  const byName = new Map(rows.map((r) => [r.name, r.create_table_query]));
  const changed: string[] = [];
  for (const t of tableSpecs(f)) {
    if (!t.ttlTime) continue;
    const expr = ttlExpression(t.ttlTime, retentionMs);
    const seconds = String(Math.ceil(retentionMs / 1000));
    const current = byName.get(layout.localName(t.name)) ?? '';
    if (current.includes(`toIntervalSecond(${seconds})`)) continue;
    await conn.command(`ALTER TABLE ${layout.local(t.name)}${layout.onCluster} MODIFY TTL ${expr}`, { materialize_ttl_after_modify: 0 });
    changed.push(t.name);
  }
  return changed;
}
