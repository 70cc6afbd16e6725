import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT } from '@duckdb/node-api';
import type { TimeRange } from '../store.js';
import { dayOf, dayTableName } from './schema.js';
import { intList, num } from './sql.js';

export const HOUR_MS = 3_600_000;

/** An hour is rolled up once it ended this long ago (late pushes of agents arrive within seconds). */
const GRACE_MS = 5 * 60_000;
/** Hours rolled per pass, so one pass never holds the writer for long. */
const HOURS_PER_PASS = 24;

/**
 * Hourly rollups: `rollup_hour` holds sum(value) per (series, hour, stack) for every *rolled* hour
 * (listed in `rolled_hours`). One service at 19 Hz × 16 CPUs writes ~290 000 sample rows an hour
 * over a few thousand distinct stacks, so a rolled hour is ~100× fewer rows, and a 30-day merge reads
 * ~2 M rollup rows instead of ~200 M raw ones.
 *
 * Correctness: a rolled hour's rollup always equals its raw samples. A write into a rolled hour (late
 * data, a re-import) first un-rolls that hour (removes its mark, on the writer, before the write
 * commits), so reads go back to raw samples for it until the roller rolls it again; rolling an hour
 * replaces its rollup rows and sets its mark in one transaction. Reads plan from the in-memory set,
 * which changes only on the writer, after the database did.
 */
export class HourlyRollup {
  private constructor(private readonly rolled: Set<number>) {}

  static async load(conn: DuckDBConnection): Promise<HourlyRollup> {
    await conn.run('CREATE TABLE IF NOT EXISTS rolled_hours (hour INTEGER NOT NULL)');
    await conn.run(
      'CREATE TABLE IF NOT EXISTS rollup_hour (series_key INTEGER NOT NULL, hour INTEGER NOT NULL, stack_key INTEGER NOT NULL, value DOUBLE NOT NULL)',
    );
    const rows = (await conn.runAndReadAll('SELECT hour FROM rolled_hours')).getRows();
    return new HourlyRollup(new Set(rows.map(([h]) => num(h!))));
  }

  get rolledHours(): number {
    return this.rolled.size;
  }

  /**
   * Splits a range into what the rollup answers (whole rolled hours, as inclusive hour intervals) and
   * what raw samples must answer (the ragged edges and every hour not rolled, as [from, to) intervals).
   */
  plan(range: TimeRange): { raw: [number, number][]; hours: [number, number][] } {
    const raw: [number, number][] = [];
    const hours: [number, number][] = [];
    if (range.to <= range.from) return { raw, hours };
    const firstWhole = Math.ceil(range.from / HOUR_MS);
    const endWhole = Math.floor(range.to / HOUR_MS); // exclusive
    const rolledInRange = [...this.rolled].filter((h) => h >= firstWhole && h < endWhole).sort((a, b) => a - b);
    let cursor = range.from;
    for (const h of rolledInRange) {
      const start = h * HOUR_MS;
      if (start > cursor) pushInterval(raw, cursor, start);
      const last = hours[hours.length - 1];
      if (last && last[1] === h - 1) last[1] = h;
      else hours.push([h, h]);
      cursor = start + HOUR_MS;
    }
    if (cursor < range.to) pushInterval(raw, cursor, range.to);
    return { raw, hours };
  }

  /** Before a write: the rolled hours it touches stop being rolled (writer only, before the commit). */
  async unroll(conn: DuckDBConnection, timesMs: Iterable<number>): Promise<void> {
    const hit = new Set<number>();
    for (const t of timesMs) {
      const h = Math.floor(t / HOUR_MS);
      if (this.rolled.has(h)) hit.add(h);
    }
    if (hit.size === 0) return;
    await conn.run(`DELETE FROM rolled_hours WHERE hour IN (${intList(hit)})`);
    for (const h of hit) this.rolled.delete(h);
  }

  /**
   * Rolls up to HOURS_PER_PASS hours that ended GRACE_MS before `nowMs`, have profiles and are not
   * rolled. Writer only. Returns how many hours it rolled.
   */
  async rollPending(conn: DuckDBConnection, days: ReadonlySet<number>, nowMs: number): Promise<number> {
    const lastEligible = Math.floor((nowMs - GRACE_MS) / HOUR_MS) - 1;
    const r = await conn.runAndReadAll(
      `SELECT DISTINCT time_ms // ${HOUR_MS} AS h FROM profiles WHERE time_ms < $1 ORDER BY h`,
      [BigInt((lastEligible + 1) * HOUR_MS)],
      [BIGINT],
    );
    const todo = r
      .getRows()
      .map(([h]) => num(h!))
      .filter((h) => !this.rolled.has(h))
      .slice(0, HOURS_PER_PASS);
    for (const h of todo) {
      const day = dayOf(h * HOUR_MS);
      await conn.run('BEGIN TRANSACTION');
      try {
        await conn.run(`DELETE FROM rollup_hour WHERE hour = ${intList([h])}`);
        if (days.has(day)) {
          await conn.run(
            `INSERT INTO rollup_hour SELECT series_key, ${intList([h])}, stack_key, sum(value * scale) FROM ${dayTableName(day)}
             WHERE time_ms >= ${intList([h * HOUR_MS])} AND time_ms < ${intList([(h + 1) * HOUR_MS])} GROUP BY series_key, stack_key`,
          );
        }
        await conn.run(`INSERT INTO rolled_hours VALUES (${intList([h])})`);
        await conn.run('COMMIT');
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
      this.rolled.add(h);
    }
    return todo.length;
  }

  /** Retention: forgets rollups of the days being dropped (writer only, inside its transaction). */
  async dropBefore(conn: DuckDBConnection, firstKeptDay: number): Promise<void> {
    const firstKeptHour = firstKeptDay * 24;
    await conn.run(`DELETE FROM rollup_hour WHERE hour < ${intList([firstKeptHour])}`);
    await conn.run(`DELETE FROM rolled_hours WHERE hour < ${intList([firstKeptHour])}`);
  }

  /** After the retention transaction committed. */
  forgetBefore(firstKeptDay: number): void {
    for (const h of this.rolled) if (h < firstKeptDay * 24) this.rolled.delete(h);
  }
}

function pushInterval(out: [number, number][], from: number, to: number): void {
  const last = out[out.length - 1];
  if (last && last[1] === from) last[1] = to;
  else out.push([from, to]);
}
