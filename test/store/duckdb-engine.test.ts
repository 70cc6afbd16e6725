import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, Unavailable } from '../../src/model/index.js';
import { DATABASE_FILE } from '../../src/store/duckdb/duckdb-engine.js';
import { commonDivisor } from '../../src/store/profile-rows.js';
import { dayOfTableName, dayTableName } from '../../src/store/duckdb/schema.js';
import { DuckDBEngine, EngineStore, openStore } from '../../src/store/index.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DAY, HOUR, T0, folded, freshTenant, mergedFolded, selector } from './fixtures.js';

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
  it('opens ClickHouse for clickhouse:// (an unreachable one is Unavailable, named), and rejects unknown schemes', async () => {
    const down = await openStore('clickhouse://127.0.0.1:1/kiln').catch((e: unknown) => e);
    expect(down).toBeInstanceOf(Unavailable);
    expect((down as Error).message).toMatch(/ClickHouse.*127\.0\.0\.1:1/);
    await expect(openStore('./data', { clickhouseCluster: 'c' })).rejects.toBeInstanceOf(InputError);
    await expect(openStore('s3://bucket/x')).rejects.toBeInstanceOf(InputError);
  });

  it('creates the data directory and kiln.duckdb inside it', async () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const store = await openStore(dir, { threads: 1 });
    await store.close();
    expect(await tableNames(dir)).toEqual(['functions', 'locations', 'mappings', 'profiles', 'rolled_hours', 'rollup_hour', 'series', 'span_samples', 'stacks']);
  });
});

describe('hourly rollups', () => {
  it('answer whole hours with the same sums as raw samples, also after late data and retention', async () => {
    const dir = tempDir();
    const engine = await DuckDBEngine.open(dir, { threads: 1, rollup: false });
    const store = await EngineStore.open(engine);
    const tenant = freshTenant();
    const base = Date.UTC(2025, 5, 1);
    const profiles = [];
    for (let h = 0; h < 30; h++) {
      for (const m of [0, 20, 40]) {
        const samples: Record<string, number> = { 'main;work;hot': 10 + h, 'main;idle': 1 };
        samples[`main;h${h % 5}`] = m + 1;
        profiles.push(folded({ labels: { service_name: h % 2 ? 'a' : 'b' }, timeMs: base + h * HOUR + m * 60_000, samples }));
      }
    }
    await store.write(tenant, profiles);
    // Ragged edges on both sides, crossing a day boundary.
    const range = { from: base + 90 * 60_000, to: base + 29 * HOUR + 30 * 60_000 };
    const raw = await mergedFolded(store, tenant, selector(), range);
    const rolled = await engine.rollUp(base + 40 * HOUR);
    expect(rolled).toBe(24); // one pass rolls at most a day of hours…
    expect(await engine.rollUp(base + 40 * HOUR)).toBe(6); // …the next the rest
    expect(await mergedFolded(store, tenant, selector(), range)).toEqual(raw);
    const grouped = await store.mergeStacksGrouped({ tenant, selector: selector(), ...range, groupBy: ['service_name'], limit: 2 });
    expect(grouped.map((g) => g.stacks.reduce((a, r) => a + r.value, 0)).reduce((a, b) => a + b)).toBe(Object.values(raw).reduce((a, b) => a + b));

    // A late profile into a rolled hour counts at once (the hour goes back to raw samples)…
    await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: base + 5 * HOUR + 1, samples: { 'main;late': 1000 } })]);
    const withLate = await mergedFolded(store, tenant, selector(), range);
    expect(withLate['main;late']).toBe(1000);
    // …and again once the hour is rolled anew, also after a restart.
    expect(await engine.rollUp(base + 40 * HOUR)).toBe(1);
    await store.close();
    const engine2 = await DuckDBEngine.open(dir, { threads: 1, rollup: false });
    const store2 = await EngineStore.open(engine2);
    expect(await mergedFolded(store2, tenant, selector(), range)).toEqual(withLate);
    // Retention drops the rollups of dropped days with the samples.
    await store2.dropBefore(base + DAY);
    const afterDrop = await mergedFolded(store2, tenant, selector(), { from: base, to: base + 40 * HOUR });
    expect(Object.keys(afterDrop).sort()).toEqual(['main;h0', 'main;h1', 'main;h2', 'main;h3', 'main;h4', 'main;idle', 'main;work;hot']);
    expect(afterDrop['main;idle']).toBe(6 * 3);
    await store2.close();
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

  it('stores the profile rows of a small and a large commit alike (found as replays after reopening)', async () => {
    const dir = tempDir();
    const tenant = freshTenant();
    const make = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => folded({ labels: { service_name: 'a' }, timeMs: T0 + (from + i) * 10_000, samples: { 'm;f': i + 1, 'm;g': 2 } }));
    // 3 profiles: one prepared INSERT; 70: past its bound, the appender.
    const small = make(3, 0);
    const large = make(70, 3);
    let store = await openStore(dir, { threads: 1 });
    expect(await store.write(tenant, small)).toEqual({ profiles: 3, rows: 6 });
    expect(await store.write(tenant, large)).toEqual({ profiles: 70, rows: 140 });
    await store.close();
    store = await openStore(dir, { threads: 1 });
    expect(await store.write(tenant, [...small, ...large])).toEqual({ profiles: 0, rows: 0 });
    expect(await mergedFolded(store, tenant, selector(), { from: T0, to: T0 + HOUR })).toEqual({ 'm;f': 6 + (70 * 71) / 2, 'm;g': 146 });
    await store.close();
    const inst = await DuckDBInstance.create(path.join(dir, DATABASE_FILE));
    const c = await inst.connect();
    const [row] = (await c.runAndReadAll('SELECT count(*), sum(total), sum(row_count), min(time_ms), max(time_ms), min(duration_ns) FROM profiles')).getRows();
    c.closeSync();
    inst.closeSync();
    expect(row!.map(Number)).toEqual([73, 6 + (70 * 71) / 2 + 146, 146, T0, T0 + 72 * 10_000, small[0]!.durationNs]);
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

describe('DuckDB durability and bounded memory', () => {
  it('keeps an acknowledged write when the process is killed without closing the store', async () => {
    const dir = tempDir();
    const tenant = freshTenant();
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-writer.ts', import.meta.url)), dir, tenant], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stdout).toContain('acknowledged {"profiles":1,"rows":1}');
    expect(child.signal).toBe('SIGKILL');
    const store = await openStore(dir, { threads: 1 });
    expect(await mergedFolded(store, tenant, selector(), { from: T0, to: T0 + HOUR })).toEqual({ 'main;work': 42 });
    await store.close();
  });

  it('never stores a symbol or profile twice once its in-memory id sets overflow', async () => {
    const dir = tempDir();
    const opts = { threads: 1, knownIdsCapacity: 3 };
    const tenant = freshTenant();
    const ps = Array.from({ length: 10 }, (_, i) =>
      folded({ labels: { service_name: 'a' }, timeMs: T0 + i * 10_000, samples: { [`m;f${i}`]: 1, 'm;shared': 2 } }),
    );
    let store = await openStore(dir, opts);
    for (const p of ps.slice(0, 6)) await store.write(tenant, [p]);
    await store.close();
    store = await openStore(dir, opts); // more ids stored than the sets may hold: they start incomplete
    expect(await store.write(tenant, ps)).toEqual({ profiles: 4, rows: 8 });
    for (const p of ps) expect(await store.write(tenant, [p])).toEqual({ profiles: 0, rows: 0 });
    const merged = await mergedFolded(store, tenant, selector(), { from: T0, to: T0 + HOUR });
    expect(merged['m;shared']).toBe(20);
    expect(Object.keys(merged)).toHaveLength(11);
    await store.close();

    const inst = await DuckDBInstance.create(path.join(dir, DATABASE_FILE));
    const c = await inst.connect();
    for (const [table, column] of [
      ['stacks', 'stack_id'],
      ['locations', 'location_id'],
      ['functions', 'function_id'],
      ['mappings', 'mapping_id'],
      ['profiles', 'profile_id'],
      ['series', 'series_id'],
    ]) {
      const [[total, distinct]] = (await c.runAndReadAll(`SELECT count(*), count(DISTINCT ${column}) FROM ${table}`)).getRows() as [[bigint, bigint]];
      expect(`${table}: ${total}`).toBe(`${table}: ${distinct}`);
    }
    c.closeSync();
    inst.closeSync();
  });
});
