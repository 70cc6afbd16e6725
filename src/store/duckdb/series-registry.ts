import type { Id } from '../../model/index.js';
import type { SeriesRecord } from '../engine.js';
import type { TimeRange } from '../store.js';

/** A series as this engine keeps it: the engine-neutral record plus its surrogate key. */
export interface KeyedSeries extends SeriesRecord {
  readonly key: number;
}

/**
 * Every series of the store, loaded at open and kept current after each commit (DuckDB has one
 * writer: this process). Series are few and samples many, so `Engine.series` answers from memory
 * and samples carry the small integer key.
 */
export class SeriesRegistry {
  private readonly byKey = new Map<number, KeyedSeries>();
  private readonly byId = new Map<Id, KeyedSeries>();
  private nextKey = 1;

  add(rec: KeyedSeries): void {
    this.byKey.set(rec.key, rec);
    this.byId.set(rec.id, rec);
    if (rec.key >= this.nextKey) this.nextKey = rec.key + 1;
  }

  remove(key: number): void {
    const rec = this.byKey.get(key);
    if (!rec) return;
    this.byKey.delete(key);
    this.byId.delete(rec.id);
  }

  /** A key no committed series uses; keys of a rolled-back write are simply skipped. */
  allocateKey(): number {
    return this.nextKey++;
  }

  get(id: Id): KeyedSeries | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<KeyedSeries> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Series of `tenant` with data in [from, to); `profileType` '' means every type. */
  inRange(tenant: string, range: TimeRange, profileType = ''): KeyedSeries[] {
    const out: KeyedSeries[] = [];
    for (const s of this.byKey.values()) {
      if (s.tenant !== tenant || s.lastMs < range.from || s.firstMs >= range.to) continue;
      if (profileType !== '' && s.typeId !== profileType) continue;
      out.push(s);
    }
    return out;
  }
}

