import type { Id } from '../../src/model/index.js';
import type {
  CommitBatch,
  Engine,
  ListedProfileRow,
  ListedSpanRow,
  ProfileCounts,
  ProfileMerge,
  ProfileRow,
  SeriesRecord,
  StoredFunction,
  StoredLocation,
  StoredMapping,
  StoredStack,
  SymbolKind,
} from '../../src/store/engine.js';
import type { StackValue, StoreStats, TimeRange } from '../../src/store/store.js';
import { OTHER_STACK_ID } from '../../src/store/store.js';

const DAY = 86_400_000;

/**
 * An Engine kept in plain maps, for tests of the layers above. Under `EngineStore` it passes the same
 * contract as DuckDB and ClickHouse (test/store/memory.test.ts), so query tests on it are not tests
 * of a different store. Deliberately naive: it loops where a real engine runs SQL.
 */
export class MemoryEngine implements Engine {
  readonly name = 'memory';
  readonly sharedWriters = false;
  private readonly seriesById = new Map<Id, SeriesRecord>();
  private readonly profiles: ProfileRow[] = [];
  private readonly symbols: { [K in SymbolKind]: Map<Id, unknown> } = {
    stacks: new Map(),
    locations: new Map(),
    functions: new Map(),
    mappings: new Map(),
  };

  async commit(b: CommitBatch): Promise<void> {
    for (const s of b.series) if (!this.seriesById.has(s.id)) this.seriesById.set(s.id, { ...s, firstMs: Infinity, lastMs: -Infinity });
    for (const [kind, rows] of [['stacks', b.stacks], ['locations', b.locations], ['functions', b.functions], ['mappings', b.mappings]] as const) {
      for (const r of rows) this.symbols[kind].set(r.id, r);
    }
    for (const p of b.profiles) {
      if (this.profiles.some((q) => q.id === p.id)) continue;
      this.profiles.push(p);
      const s = this.seriesById.get(p.seriesId)!;
      s.firstMs = Math.min(s.firstMs, p.timeMs);
      s.lastMs = Math.max(s.lastMs, p.timeMs);
    }
  }

  async storedProfiles(ids: readonly Id[]): Promise<Set<Id>> {
    const want = new Set(ids);
    return new Set(this.profiles.filter((p) => want.has(p.id)).map((p) => p.id));
  }

  async recentProfiles(windowMs: number): Promise<{ ids: { id: Id; timeMs: number }[]; floorMs: number }> {
    if (this.profiles.length === 0) return { ids: [], floorMs: -Infinity };
    const floorMs = Math.max(...this.profiles.map((p) => p.timeMs)) - windowMs;
    return { ids: this.profiles.filter((p) => p.timeMs >= floorMs).map((p) => ({ id: p.id, timeMs: p.timeMs })), floorMs };
  }

  async storedSymbols(kind: SymbolKind, ids: readonly Id[]): Promise<Set<Id>> {
    return new Set(ids.filter((id) => this.symbols[kind].has(id)));
  }

  async series(tenant: string, range: TimeRange, profileType: string): Promise<SeriesRecord[]> {
    return [...this.seriesById.values()].filter(
      (s) => s.tenant === tenant && (profileType === '' || s.typeId === profileType) && s.lastMs >= range.from && s.firstMs < range.to,
    );
  }

  async mergeStacks(_tenant: string, groups: readonly (readonly Id[])[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<StackValue[][]> {
    signal?.throwIfAborted();
    return groups.map((ids) => {
      const sums = new Map<Id, number>();
      for (const p of this.inRange(ids, range)) {
        p.stackIds.forEach((id, i) => sums.set(id, (sums.get(id) ?? 0) + p.scaled[i]! * p.scale));
      }
      const rows = [...sums].map(([stackId, value]) => ({ stackId, value })).sort((a, b) => b.value - a.value);
      if (limit <= 0 || rows.length <= limit) return rows;
      return [...rows.slice(0, limit), { stackId: OTHER_STACK_ID, value: rows.slice(limit).reduce((a, r) => a + r.value, 0) }];
    });
  }

  async seriesPoints(
    _tenant: string,
    groups: readonly (readonly Id[])[],
    range: TimeRange,
    stepMs: number,
    aggregation: 'sum' | 'avg',
    signal?: AbortSignal,
  ): Promise<{ timeMs: number; value: number }[][]> {
    signal?.throwIfAborted();
    return groups.map((ids) => {
      const buckets = new Map<number, { total: number; n: number }>();
      for (const p of this.inRange(ids, range)) {
        const t = range.from + Math.floor((p.timeMs - range.from) / stepMs) * stepMs;
        const b = buckets.get(t) ?? { total: 0, n: 0 };
        b.total += p.total;
        b.n++;
        buckets.set(t, b);
      }
      return [...buckets]
        .sort((a, b) => a[0] - b[0])
        .map(([timeMs, b]) => ({ timeMs, value: aggregation === 'avg' ? b.total / b.n : b.total }));
    });
  }

  async listProfiles(_tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedProfileRow[]> {
    signal?.throwIfAborted();
    return this.inRange(seriesIds, range)
      .sort((a, b) => a.timeMs - b.timeMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map((p) => ({ id: p.id, seriesId: p.seriesId, timeMs: p.timeMs, total: p.total }));
  }

  async mergeProfileStacks(_tenant: string, seriesIds: readonly Id[], range: TimeRange, profileIds: readonly Id[], signal?: AbortSignal): Promise<ProfileMerge> {
    signal?.throwIfAborted();
    const want = new Set(profileIds);
    const mine = this.inRange(seriesIds, range);
    const instants = new Set(mine.filter((p) => want.has(p.id)).map((p) => `${p.seriesId}@${p.timeMs}`));
    const at = mine.filter((p) => instants.has(`${p.seriesId}@${p.timeMs}`));
    const sums = new Map<Id, number>();
    for (const p of at) p.stackIds.forEach((id, i) => sums.set(id, (sums.get(id) ?? 0) + p.scaled[i]! * p.scale));
    return { stacks: [...sums].map(([stackId, value]) => ({ stackId, value })), shared: at.filter((p) => !want.has(p.id)).length };
  }

  async listSpans(_tenant: string, seriesIds: readonly Id[], range: TimeRange, limit: number, signal?: AbortSignal): Promise<ListedSpanRow[]> {
    signal?.throwIfAborted();
    const sums = new Map<string, ListedSpanRow & { total: number }>();
    for (const p of this.inRange(seriesIds, range)) {
      p.spans?.spanIds.forEach((spanId, i) => {
        const k = `${p.seriesId}/${p.timeMs}/${spanId}`;
        const row = sums.get(k) ?? { spanId, seriesId: p.seriesId, timeMs: p.timeMs, total: 0 };
        row.total += p.spans!.values[i]!;
        sums.set(k, row);
      });
    }
    const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
    return [...sums.values()].sort((a, b) => a.timeMs - b.timeMs || cmp(a.spanId, b.spanId) || cmp(a.seriesId, b.seriesId)).slice(0, limit);
  }

  async mergeSpanStacks(_tenant: string, seriesIds: readonly Id[], range: TimeRange, spanIds: readonly Id[], signal?: AbortSignal): Promise<StackValue[]> {
    signal?.throwIfAborted();
    const want = new Set(spanIds);
    const sums = new Map<Id, number>();
    for (const p of this.inRange(seriesIds, range)) {
      const s = p.spans;
      if (!s) continue;
      s.spanIds.forEach((span, i) => {
        if (want.has(span)) sums.set(s.stackIds[i]!, (sums.get(s.stackIds[i]!) ?? 0) + s.values[i]!);
      });
    }
    return [...sums].map(([stackId, value]) => ({ stackId, value }));
  }

  async countProfiles(_tenant: string, seriesIds: readonly Id[], range: TimeRange, signal?: AbortSignal): Promise<ProfileCounts> {
    signal?.throwIfAborted();
    const mine = this.inRange(seriesIds, range);
    return { profiles: mine.length, rows: mine.reduce((a, p) => a + p.stackIds.length, 0) };
  }

  fetchSymbols(kind: 'stacks', ids: readonly Id[]): Promise<StoredStack[]>;
  fetchSymbols(kind: 'locations', ids: readonly Id[]): Promise<StoredLocation[]>;
  fetchSymbols(kind: 'functions', ids: readonly Id[]): Promise<StoredFunction[]>;
  fetchSymbols(kind: 'mappings', ids: readonly Id[]): Promise<StoredMapping[]>;
  async fetchSymbols(kind: SymbolKind, ids: readonly Id[]): Promise<unknown[]> {
    return ids.map((id) => this.symbols[kind].get(id)).filter((x) => x !== undefined);
  }

  async dropBefore(olderThanMs: number): Promise<number> {
    const cut = Math.floor(olderThanMs / DAY) * DAY;
    const days = new Set(this.profiles.filter((p) => p.timeMs < cut).map((p) => Math.floor(p.timeMs / DAY)));
    const kept = this.profiles.filter((p) => p.timeMs >= cut);
    this.profiles.length = 0;
    this.profiles.push(...kept);
    for (const s of this.seriesById.values()) {
      const mine = kept.filter((p) => p.seriesId === s.id);
      if (mine.length === 0) this.seriesById.delete(s.id);
      else s.firstMs = Math.min(...mine.map((p) => p.timeMs));
    }
    return days.size;
  }

  async stats(): Promise<StoreStats> {
    const rows = this.profiles.reduce((a, p) => a + p.stackIds.length, 0);
    // Nothing is on disk: report what the rows hold in memory (id + value per row), as a stand-in.
    return { series: this.seriesById.size, rows, bytesOnDisk: rows * 16 };
  }

  async health(): Promise<void> {}

  async close(): Promise<void> {}

  private inRange(ids: readonly Id[], range: TimeRange): ProfileRow[] {
    const want = new Set(ids);
    return this.profiles.filter((p) => want.has(p.seriesId) && p.timeMs >= range.from && p.timeMs < range.to);
  }
}
