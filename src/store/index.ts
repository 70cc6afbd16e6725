import { InputError } from '../model/index.js';
import { ClickHouseEngine } from './clickhouse/clickhouse-engine.js';
import { DuckDBEngine } from './duckdb/duckdb-engine.js';
import type { DuckDBEngineOptions } from './duckdb/duckdb-engine.js';
import { EngineStore } from './engine-store.js';
import type { EngineStoreOptions } from './engine-store.js';
import type { Store } from './store.js';

export * from './store.js';
export { EngineStore } from './engine-store.js';
export { DuckDBEngine } from './duckdb/duckdb-engine.js';
export { ClickHouseEngine } from './clickhouse/clickhouse-engine.js';

export interface StoreOptions extends DuckDBEngineOptions {
  /** ClickHouse only: create replicated tables and Distributed tables over this cluster. */
  readonly clickhouseCluster?: string;
  /** Writes older than this are refused (every engine); ClickHouse also sets it as the tables' TTL where it can. */
  readonly retentionMs?: number;
}

import { DEFAULT_DATA_DIR } from './data-dir-default.js';
export { DEFAULT_DATA_DIR } from './data-dir-default.js';

/**
 * Opens the store a `--store`/`--data-dir` value names, always as an EngineStore over one engine:
 * - a directory path (default `./data`): the embedded DuckDB engine, file `kiln.duckdb` inside it;
 * - `clickhouse://user:pass@host:8123/db`: the ClickHouse engine.
 */
export async function openStore(url: string = DEFAULT_DATA_DIR, opts: StoreOptions = {}): Promise<Store> {
  if (/^clickhouses?:\/\//i.test(url)) {
    return EngineStore.open(await ClickHouseEngine.open(url, { cluster: opts.clickhouseCluster, retentionMs: opts.retentionMs }), opts);
  }
  if (opts.clickhouseCluster !== undefined) throw new InputError('--clickhouse-cluster needs a clickhouse:// store URL');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new InputError(`unknown store "${url}": give a data directory or clickhouse://host:port/database`);
  }
  return openDuckDB(url === '' ? DEFAULT_DATA_DIR : url, opts);
}

/** The embedded store in `dir`. */
export async function openDuckDB(dir: string, opts: DuckDBEngineOptions & EngineStoreOptions = {}): Promise<EngineStore> {
  return EngineStore.open(await DuckDBEngine.open(dir, opts), opts);
}
