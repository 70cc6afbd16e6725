import type { ClickHouseSettings } from '@clickhouse/client';
import type { CommitBatch, ProfileRow } from '../engine.js';
import type { Connection } from './connection.js';
import { encodeString, RowBinaryWriter } from './row-binary.js';
import type { Layout } from './schema.js';

/**
 * One commit = a few RowBinary INSERTs, in the order that makes a half-finished commit harmless:
 * symbols and series first (in parallel), then samples, then the `profiles` rows. ClickHouse has no
 * transaction across tables, so a profile id becomes visible (and replays of it are skipped) only
 * once its samples are stored; a commit that fails before that is retried whole.
 *
 * Inserts are bounded in rows (one INSERT per ≤ ROWS_PER_INSERT samples) and the chunking is a pure
 * function of the batch, so a retried batch produces the same blocks and the server's insert
 * deduplication (replicated tables, and non-replicated ones on servers that have the window) drops them.
 */

const ROWS_PER_INSERT = 200_000;
/** Symbol rows per INSERT (bounded the same way; a batch rarely has this many new ones). */
const SYMBOLS_PER_INSERT = 100_000;

export interface Writer {
  readonly conn: Connection;
  readonly layout: Layout;
  /** Settings every INSERT carries (in a cluster: wait until the shards have the rows). */
  readonly insertSettings: ClickHouseSettings;
}

async function insertRows<T>(w: Writer, table: string, columns: readonly string[], rows: readonly T[], per: number, encode: (out: RowBinaryWriter, row: T) => void): Promise<void> {
  for (let i = 0; i < rows.length; i += per) {
    const out = new RowBinaryWriter();
    const end = Math.min(rows.length, i + per);
    for (let j = i; j < end; j++) encode(out, rows[j]!);
    await w.conn.insert(w.layout.table(table), columns, out.bytes(), w.insertSettings);
  }
}

export async function commit(w: Writer, batch: CommitBatch): Promise<void> {
  await Promise.all([
    insertRows(w, 'series', ['tenant', 'profile_type', 'series_id', 'label_names', 'label_values'], batch.series, SYMBOLS_PER_INSERT, (o, s) =>
      o.string(s.tenant).string(s.typeId).uint64(s.id).stringArray(s.labels.map((l) => l.name)).stringArray(s.labels.map((l) => l.value)),
    ),
    insertRows(w, 'mappings', ['mapping_id', 'binary', 'build_id'], batch.mappings, SYMBOLS_PER_INSERT, (o, m) =>
      o.uint64(m.id).string(m.binary).string(m.buildId),
    ),
    insertRows(w, 'functions', ['function_id', 'name', 'system_name', 'file'], batch.functions, SYMBOLS_PER_INSERT, (o, f) =>
      o.uint64(f.id).string(f.name).string(f.systemName).string(f.file),
    ),
    insertRows(w, 'locations', ['location_id', 'mapping_id', 'address', 'function_ids', 'lines'], batch.locations, SYMBOLS_PER_INSERT, (o, l) =>
      o.uint64(l.id).nullableUint64(l.mappingId).uint64(l.address).uint64Array(l.functionIds).int64Array(l.lines),
    ),
    insertRows(w, 'stacks', ['stack_id', 'location_ids'], batch.stacks, SYMBOLS_PER_INSERT, (o, s) => o.uint64(s.id).uint64Array(s.locationIds)),
  ]);
  await insertSamples(w, batch.profiles);
  await insertRows(w, 'span_samples', ['tenant', 'series_id', 'time_ms', 'span_id', 'stack_id', 'value'], spanRowsOf(batch.profiles), ROWS_PER_INSERT, (o, r) =>
    o.string(r.p.tenant).uint64(r.p.seriesId).int64(r.p.timeMs).uint64(r.p.spans!.spanIds[r.i]!).uint64(r.p.spans!.stackIds[r.i]!).float64(r.p.spans!.values[r.i]!),
  );
  await insertRows(
    w,
    'profiles',
    ['tenant', 'profile_type', 'series_id', 'time_ms', 'profile_id', 'duration_ns', 'total', 'rows'],
    batch.profiles,
    ROWS_PER_INSERT,
    (o, p) => o.string(p.tenant).string(p.typeId).uint64(p.seriesId).int64(p.timeMs).uint64(p.id).int64(p.durationNs).float64(p.total).uint32(p.stackIds.length),
  );
}

/** (profile, row) of every span sample; empty (no INSERT) when no profile of the batch has spans. */
function spanRowsOf(profiles: readonly ProfileRow[]): { p: ProfileRow; i: number }[] {
  const out: { p: ProfileRow; i: number }[] = [];
  for (const p of profiles) for (let i = 0; i < (p.spans?.spanIds.length ?? 0); i++) out.push({ p, i });
  return out;
}

/** Sample rows, whole profiles per INSERT, a new INSERT once ROWS_PER_INSERT is reached. */
async function insertSamples(w: Writer, profiles: readonly ProfileRow[]): Promise<void> {
  const columns = ['tenant', 'series_id', 'time_ms', 'stack_id', 'scaled', 'scale'];
  const tenants = new Map<string, Uint8Array>();
  let out = new RowBinaryWriter(1 << 20);
  let rows = 0;
  for (const p of profiles) {
    let tenant = tenants.get(p.tenant);
    if (!tenant) tenants.set(p.tenant, (tenant = encodeString(p.tenant)));
    for (let i = 0; i < p.stackIds.length; i++) {
      out.encodedString(tenant).uint64(p.seriesId).int64(p.timeMs).uint64(p.stackIds[i]!).float64(p.scaled[i]!).float64(p.scale);
    }
    rows += p.stackIds.length;
    if (rows >= ROWS_PER_INSERT) {
      await w.conn.insert(w.layout.table('samples'), columns, out.bytes(), w.insertSettings);
      out = new RowBinaryWriter(1 << 20);
      rows = 0;
    }
  }
  if (rows > 0) await w.conn.insert(w.layout.table('samples'), columns, out.bytes(), w.insertSettings);
}
