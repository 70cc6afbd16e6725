import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/index.js';
import { DATABASE_FILE } from '../../src/store/duckdb/duckdb-store.js';
import { commonDivisor } from '../../src/store/duckdb/profile-rows.js';
import { dayOfTableName, dayTableName } from '../../src/store/duckdb/schema.js';
import { openStore } from '../../src/store/index.js';
import { DAY, HOUR, folded, freshTenant } from './fixtures.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'kiln-duckdb-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function tableNames(dir: string): Promise<string[]> {
  const inst = await DuckDBInstance.create(path.join(dir, DATABASE_FILE));
  const c = await inst.connect();
  const rows = (await c.runAndReadAll(`SELECT table_name FROM duckdb_tables() ORDER BY 1`)).getRows();
  c.closeSync();
  inst.closeSync();
  return rows.map(([n]) => String(n));
}

describe('openStore', () => {
  it('says the ClickHouse engine is not built yet, and rejects unknown schemes', async () => {
    await expect(openStore('clickhouse://localhost:8123/kiln')).rejects.toThrow(/ClickHouse store is not built yet/);
    await expect(openStore('s3://bucket/x')).rejects.toBeInstanceOf(InputError);
  });

  it('creates the data directory and kiln.duckdb inside it', async () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const store = await openStore(dir, { threads: 1 });
    await store.close();
    expect(await tableNames(dir)).toEqual(['functions', 'locations', 'mappings', 'profiles', 'series', 'stacks']);
  });
});

describe('DuckDB layout', () => {
  it('keeps samples in one table per UTC day and retention drops those tables', async () => {
    const dir = tempDir();
    const store = await openStore(dir, { threads: 1 });
    const tenant = freshTenant();
    const d1 = Date.UTC(2024, 1, 28);
    await store.write(tenant, [
      folded({ labels: { service_name: 'a' }, timeMs: d1 + HOUR, samples: { 'a;b': 1 } }),
      folded({ labels: { service_name: 'a' }, timeMs: d1 + DAY + HOUR, samples: { 'a;b': 1 } }),
      folded({ labels: { service_name: 'a' }, timeMs: d1 + 2 * DAY + HOUR, samples: { 'a;b': 1 } }),
    ]);
    expect(await store.dropBefore(d1 + 2 * DAY)).toBe(2);
    await store.close();
    const samples = (await tableNames(dir)).filter((n) => n.startsWith('samples_'));
    expect(samples).toEqual(['samples_20240301']); // 2024 is a leap year: Feb 28, Feb 29 dropped
  });

  it('names day tables by UTC date and reads them back', () => {
    const day = Math.floor(Date.UTC(2026, 11, 31, 23, 59) / DAY);
    expect(dayTableName(day)).toBe('samples_20261231');
    expect(dayOfTableName('samples_20261231')).toBe(day);
    expect(dayOfTableName('stacks')).toBeUndefined();
  });

  it('scales integer values by their common divisor, fractional ones not at all', () => {
    expect(commonDivisor(Float64Array.from([52_631_578 * 3, 52_631_578 * 7]))).toBe(52_631_578);
    expect(commonDivisor(Float64Array.from([4, 6, 9]))).toBe(1);
    expect(commonDivisor(Float64Array.from([1.5, 3]))).toBe(1);
    expect(commonDivisor(Float64Array.from([]))).toBe(1);
  });
});
