import type { Id, Labels, ProfileType, Selector } from '../../model/index.js';
import { matches } from '../../model/index.js';
import type { TimeRange } from '../store.js';

/** One series as the engine keeps it in memory: series are few, samples are many. */
export interface SeriesRecord {
  readonly key: number;
  readonly id: Id;
  readonly tenant: string;
  readonly type: ProfileType;
  readonly typeId: string;
  readonly labels: Labels;
  /** Time bounds of the stored profiles, so label queries honour the range without scanning samples. */
  firstMs: number;
  lastMs: number;
}

/**
 * Every series of the store, loaded at open and kept current after each commit. Selector matching
 * runs here with the model's `matches()`, so the engine and the rest of Kiln agree on regex and
 * missing-label semantics exactly; SQL then filters samples by the matched series keys.
 */
export class SeriesRegistry {
  private readonly byKey = new Map<number, SeriesRecord>();
  private readonly byId = new Map<Id, SeriesRecord>();
  private nextKey = 1;

  add(rec: SeriesRecord): void {
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

  get(id: Id): SeriesRecord | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<SeriesRecord> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Series of `tenant` with data in [from, to); `profileType` '' means every type. */
  inRange(tenant: string, range: TimeRange, profileType = ''): SeriesRecord[] {
    const out: SeriesRecord[] = [];
    for (const s of this.byKey.values()) {
      if (s.tenant !== tenant || s.lastMs < range.from || s.firstMs >= range.to) continue;
      if (profileType !== '' && s.typeId !== profileType) continue;
      out.push(s);
    }
    return out;
  }

  select(tenant: string, selector: Selector, range: TimeRange): SeriesRecord[] {
    return this.inRange(tenant, range, selector.profileType).filter((s) => matches(s.labels, selector.matchers));
  }
}
