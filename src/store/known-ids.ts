import type { Id } from '../model/index.js';
import { BoundedCache } from './bounded-cache.js';

/**
 * The ids a table holds, kept in memory up to `capacity`. While the set is *complete* (loaded whole
 * at open and never trimmed since, and this process the only writer) a miss proves an id is new, so
 * the write path asks the database nothing; once it outgrows the bound it forgets, stops being
 * complete, and misses are checked against the table. Memory stays bounded either way.
 */
export class KnownIds<V = true> {
  private readonly ids: BoundedCache<Id, V>;
  private complete: boolean;

  constructor(
    readonly capacity: number,
    complete = true,
  ) {
    this.ids = new BoundedCache(capacity);
    this.complete = complete;
  }

  get(id: Id): V | undefined {
    return this.ids.get(id);
  }

  /** When true, an id `get` does not know is surely not in the table. */
  get isComplete(): boolean {
    return this.complete;
  }

  /** Only for ids that are committed to the table. */
  set(id: Id, value: V): void {
    if (this.ids.set(id, value)) this.complete = false;
  }

  /** Another writer may add ids behind our back: misses must be asked. */
  markIncomplete(): void {
    this.complete = false;
  }
}
