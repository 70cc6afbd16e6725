import type { Id, Labels, Profile, ProfileType } from '../model/index.js';
import { InputError } from '../model/index.js';
import { formatLabels, matches } from '../model/index.js';
import type { Engine, SeriesRecord } from './engine.js';
import type {
  GroupedMergeQuery,
  GroupedStacks,
  ListedProfile,
  ListedSpan,
  MergeQuery,
  ProfileListQuery,
  QueryFootprint,
  ResolvedStacks,
  SeriesInfo,
  SeriesPoints,
  SeriesPointsQuery,
  SeriesQuery,
  StackValue,
  Store,
  StoreStats,
  WriteResult,
} from './store.js';
import { SymbolCache } from './symbol-cache.js';
import type { WritePathOptions } from './write-path.js';
import { WritePath } from './write-path.js';
import { registerStoredStacks } from './stored-stacks.js';
import { moreWritesComing } from './write-hints.js';

export type EngineStoreOptions = WritePathOptions;

/** Profile ids one merge may name (Grafana sends one; a hand-built list of thousands is not a profile selection). */
export const MAX_SELECTED_PROFILES = 1000;

/**
 * The Store every engine sits under. What is the same for every engine lives here once: the write
 * path (validation, content ids, replay detection, group commit), selector matching (the model's
 * `matches`: Prometheus semantics, RE2, linear time), label listing, grouping by labels, and the
 * symbol cache. The engine answers sums and symbol rows for series ids this layer selected.
 */
export class EngineStore implements Store {
  private readonly symbols: SymbolCache;
  private closed = false;

  private constructor(
    readonly engine: Engine,
    private readonly writes: WritePath,
  ) {
    this.symbols = new SymbolCache(engine);
    registerStoredStacks(this, writes.storedStacks);
    writes.moreComing = () => moreWritesComing(this);
  }

  /** Takes ownership of the engine: closing the store closes it. */
  static async open(engine: Engine, opts: EngineStoreOptions = {}): Promise<EngineStore> {
    try {
      return new EngineStore(engine, await WritePath.open(engine, opts));
    } catch (e) {
      await engine.close().catch(() => undefined);
      throw e;
    }
  }

  write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return this.writes.write(tenant, profiles);
  }

  async profileTypes(q: SeriesQuery): Promise<ProfileType[]> {
    const byId = new Map<string, ProfileType>();
    for (const s of await this.select(q)) byId.set(s.typeId, s.type);
    return [...byId.keys()].sort().map((k) => byId.get(k)!);
  }

  async labelNames(q: SeriesQuery): Promise<string[]> {
    const names = new Set<string>();
    for (const s of await this.select(q)) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  async labelValues(q: SeriesQuery, name: string): Promise<string[]> {
    const values = new Set<string>();
    for (const s of await this.select(q)) for (const l of s.labels) if (l.name === name) values.add(l.value);
    return [...values].sort();
  }

  async series(q: SeriesQuery): Promise<SeriesInfo[]> {
    return (await this.select(q))
      .map((s) => ({ id: s.id, profileType: s.type, labels: s.labels }))
      .sort((a, b) => compareLabels(a.labels, b.labels));
  }

  async mergeStacks(q: MergeQuery): Promise<StackValue[]> {
    const series = await this.select(q);
    if (series.length === 0 || q.to <= q.from) return [];
    if (q.profileIds !== undefined && q.spanIds !== undefined) throw new InputError('a merge takes a profile id selector or a span selector, not both');
    if (q.spanIds !== undefined) return this.engine.mergeSpanStacks(q.tenant, series.map((s) => s.id), q, q.spanIds, q.signal);
    if (q.profileIds !== undefined) return this.mergeProfiles(q, series, q.profileIds);
    const [rows] = await this.engine.mergeStacks(q.tenant, [series.map((s) => s.id)], q, limitOf(q.limit), q.signal);
    return rows ?? [];
  }

  /** The samples of some profiles by id; refused when another profile's samples share their series and instant. */
  private async mergeProfiles(q: MergeQuery, series: readonly SeriesRecord[], profileIds: readonly Id[]): Promise<StackValue[]> {
    if (profileIds.length > MAX_SELECTED_PROFILES) {
      throw new InputError(`profile id selector names ${profileIds.length} profiles (limit ${MAX_SELECTED_PROFILES})`);
    }
    const merged = await this.engine.mergeProfileStacks(q.tenant, series.map((s) => s.id), q, profileIds, q.signal);
    if (merged.shared > 0) {
      throw new InputError(
        `profile id selector: ${merged.shared} other profile(s) were stored at the same series and instant as a selected one, and their samples cannot be told apart; select them too or merge by time range`,
        422,
      );
    }
    return merged.stacks;
  }

  async mergeStacksGrouped(q: GroupedMergeQuery): Promise<GroupedStacks[]> {
    const groups = groupSeries(await this.select(q), q.groupBy);
    if (groups.length === 0 || q.to <= q.from) return [];
    const merged = await this.engine.mergeStacks(q.tenant, groups.map((g) => g.ids), q, limitOf(q.limit), q.signal);
    return groups.map((g, i) => ({ labels: g.labels, stacks: merged[i] ?? [] })).filter((g) => g.stacks.length > 0);
  }

  resolveStacks(_tenant: string, stackIds: readonly Id[], signal?: AbortSignal): Promise<ResolvedStacks> {
    this.checkOpen();
    // Symbols are shared content (ids are hashes of what they name), not tenant data: a tenant can
    // only ask for ids it already got from its own merge.
    return this.symbols.resolve(stackIds, signal);
  }

  async seriesPoints(q: SeriesPointsQuery): Promise<SeriesPoints[]> {
    const groups = groupSeries(await this.select(q), q.groupBy);
    if (groups.length === 0 || q.to <= q.from) return [];
    const points = await this.engine.seriesPoints(q.tenant, groups.map((g) => g.ids), q, q.stepMs, q.aggregation, q.signal);
    return groups.map((g, i) => ({ labels: g.labels, points: points[i] ?? [] })).filter((g) => g.points.length > 0);
  }

  async listProfiles(q: ProfileListQuery): Promise<ListedProfile[]> {
    return this.listed(q, 'profiles', (tenant, ids, limit) => this.engine.listProfiles(tenant, ids, q, limit, q.signal), (r, labels) => ({
      id: r.id,
      labels,
      timeMs: r.timeMs,
      total: r.total,
    }));
  }

  async listSpans(q: ProfileListQuery): Promise<ListedSpan[]> {
    return this.listed(q, 'spans', (tenant, ids, limit) => this.engine.listSpans(tenant, ids, q, limit, q.signal), (r, labels) => ({
      spanId: r.spanId,
      labels,
      timeMs: r.timeMs,
      total: r.total,
    }));
  }

  /** A listing of the selection's series, refused past `q.limit` rows (the engine is asked for one more). */
  private async listed<R extends { readonly seriesId: Id }, T>(
    q: ProfileListQuery,
    what: string,
    list: (tenant: string, seriesIds: Id[], limit: number) => Promise<R[]>,
    shape: (row: R, labels: Labels) => T,
  ): Promise<T[]> {
    const series = await this.select(q);
    if (series.length === 0 || q.to <= q.from) return [];
    const limit = Math.max(0, Math.floor(q.limit));
    const rows = await list(q.tenant, series.map((s) => s.id), limit + 1);
    if (rows.length > limit) {
      throw new InputError(`the selection holds more than ${limit} ${what} in this range (the limit for listing ${what}): narrow the selector or the range`, 422);
    }
    const labelsOf = new Map(series.map((s) => [s.id, s.labels]));
    return rows.map((r) => shape(r, labelsOf.get(r.seriesId) ?? []));
  }

  async footprint(q: SeriesQuery): Promise<QueryFootprint> {
    const series = await this.select(q);
    if (series.length === 0 || q.to <= q.from) return { series: 0, profiles: 0, samples: 0, sampleBytes: 0 };
    const [counts, stats] = await Promise.all([this.engine.countProfiles(q.tenant, series.map((s) => s.id), q, q.signal), this.engine.stats()]);
    const perRow = stats.rows > 0 ? stats.bytesOnDisk / stats.rows : 0;
    return { series: series.length, profiles: counts.profiles, samples: counts.rows, sampleBytes: Math.round(counts.rows * perRow) };
  }

  async dropBefore(olderThanMs: number): Promise<number> {
    this.checkOpen();
    return this.engine.dropBefore(olderThanMs);
  }

  async stats(): Promise<StoreStats> {
    this.checkOpen();
    return this.engine.stats();
  }

  async health(): Promise<void> {
    this.checkOpen();
    await this.engine.health();
  }

  /** Waits for queued writes, then closes the engine. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.flush();
    await this.engine.close();
  }

  /** The series of the tenant that the selector matches, with data in the range. */
  private async select(q: SeriesQuery): Promise<SeriesRecord[]> {
    this.checkOpen();
    q.signal?.throwIfAborted();
    const all = await this.engine.series(q.tenant, q, q.selector.profileType, q.signal);
    return all.filter((s) => s.lastMs >= q.from && s.firstMs < q.to && matches(s.labels, q.selector.matchers));
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

function limitOf(limit: number | undefined): number {
  return limit !== undefined && Number.isFinite(limit) && limit > 0 ? Math.floor(limit) : 0;
}

/** Series grouped by the values of the group-by labels (a series lacking one groups without it). */
function groupSeries(series: readonly SeriesRecord[], groupBy: readonly string[]): { labels: Labels; ids: Id[] }[] {
  const groups = new Map<string, { labels: Labels; ids: Id[] }>();
  const names = new Set(groupBy);
  for (const s of series) {
    const labels = s.labels.filter((l) => names.has(l.name));
    const k = formatLabels(labels);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { labels, ids: [] }));
    g.ids.push(s.id);
  }
  return [...groups.values()];
}

function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name) return x.name < y.name ? -1 : 1;
    if (x.value !== y.value) return x.value < y.value ? -1 : 1;
  }
  return a.length - b.length;
}
