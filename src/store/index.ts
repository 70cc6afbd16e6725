import { InputError } from '../model/index.js';
import { DuckDBStore } from './duckdb/duckdb-store.js';
import type { DuckDBStoreOptions } from './duckdb/duckdb-store.js';
import type { Store } from './store.js';

export * from './store.js';
export { DuckDBStore } from './duckdb/duckdb-store.js';

export type StoreOptions = DuckDBStoreOptions;

/** Where data lives when nothing says otherwise (relative to the working directory). */
export const DEFAULT_DATA_DIR = './data';

/**
 * Opens the store a `--store`/`--data-dir` value names:
 * - a directory path (default `./data`): the embedded DuckDB engine, file `kiln.duckdb` inside it;
 * - `clickhouse://host:8123/db`: the ClickHouse engine (a later issue).
 */
export async function openStore(url: string = DEFAULT_DATA_DIR, opts: StoreOptions = {}): Promise<Store> {
  if (/^clickhouse:\/\//i.test(url)) {
    // The ClickHouse engine plugs in here (src/store/clickhouse/); it must pass test/store/contract.ts.
    throw new InputError('the ClickHouse store is not built yet: use a data directory for now', 422);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new InputError(`unknown store "${url}": give a data directory or clickhouse://host:port/database`);
  }
  return DuckDBStore.open(url === '' ? DEFAULT_DATA_DIR : url, opts);
}
