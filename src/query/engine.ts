import { InputError } from '../model/errors.js';
import { labelsFrom } from '../model/labels.js';
import type { Labels } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType } from '../model/profile-type.js';
import { emptyDictionary } from '../model/symbols.js';
import { OTHER_STACK_ID } from '../store/store.js';
import type { MergeQuery, ResolvedStacks, SeriesPoints, SeriesQuery, StackValue, Store } from '../store/store.js';
import { withCallSite } from './call-site.js';
import type { DiffNode, DiffOptions, DiffTable, DiffTableOptions } from './diff.js';
import { buildDiffTree, diffTable } from './diff.js';
import type { StackGroup } from './grouped.js';
import { groupedStacks } from './grouped.js';
import type { LabelQuery } from './labels.js';
import { listLabelNames, listLabelValues, listProfileTypes, listSeriesLabels } from './labels.js';
import type { Sandwich } from './sandwich.js';
import { sandwich } from './sandwich.js';
import type { StackFilter, WeightedStack } from './stacks.js';
import { filterStacks, isEmptyFilter, weightedStacks } from './stacks.js';
import { profileOfResolved, profileOfStacks } from './merged-profile.js';
import { truncateStacks } from './pprof-trim.js';
import { callgraph } from './callgraph.js';
import type { Callgraph } from './callgraph.js';
import type { HeatmapSeries } from './heatmap.js';
import type { HeatmapQueryOptions, PointKind, SeriesWithExemplars } from './profile-reads.js';
import { profileHeatmap, queryFootprint, withExemplars } from './profile-reads.js';
import type { QueryFootprint } from '../store/store.js';
import { profileTimeBounds } from './time-bounds.js';
import type { TimeBounds } from './time-bounds.js';
import { checkRange } from './time.js';
import type { TopOptions, TopTable } from './top.js';
import { topTable } from './top.js';
import type { FlameNode } from './tree.js';
import { buildTree } from './tree.js';

/** Pyroscope's default for max_nodes: enough detail for a screen, small enough for a browser. */
export const DEFAULT_MAX_NODES = 8192;

/** Series buckets one query may ask for (Prometheus caps a range query at 11 000 points). */
export const MAX_SERIES_POINTS = 11_000;

/**
 * Stacks a flame graph of `maxNodes` nodes asks the store for (0 = every stack): the store sums the
 * rest into one remainder row, which becomes the root's `other`, and symbols are fetched and frames
 * built only for the stacks kept.
 *
 * The limit is a bound on cost, not a sampling scheme, because a cut moves weight: a cut stack's value
 * leaves every node on its path for the root's `other`, and the cut stacks are the long tail of stacks
 * seen once or twice, which adds up. Measured by building the tree with and without the cut from
 * bench/store-data.ts's service model (1 h at 19 Hz × 16 CPUs, 1.1 M samples), max_nodes 1024:
 *   92 000 distinct stacks (Zipf 1.1):  K 20 000 → 9 % of the total in `other`, nodes off by ≤ 3.5 %;
 *                                       K 100 000 → nothing cut.
 *   174 000 distinct stacks (Zipf 0.8): K 20 000 → 39 %, nodes off by ≤ 15 %; K 100 000 → 9.5 %, ≤ 3.5 %;
 *                                       K 131 072 (max_nodes 16 384) → 3.9 %, ≤ 1.5 %.
 *   900 000 distinct stacks (6 h, Zipf 0.8): K 100 000 → 38 %.
 * So K is large enough that merges of an ordinary service's hour are not cut at all, and bounds what a
 * huge merge costs: frames and trimmed tree for 100 000 stacks take ~1 s here (docs/BENCHMARKS.md,
 * bench/query-tree.ts), 900 000 would take most of the read deadline and gigabytes of heap. Past K the
 * picture is approximate and says so: the root's `other` holds exactly what was cut, totals stay exact.
 */
export function flameStackLimit(maxNodes: number): number {
  return maxNodes === 0 ? 0 : Math.max(maxNodes * 8, 100_000);
}

/** Filters of a merge: focus/hide (stacks.ts) and Pyroscope's call-site selection. */
export interface MergeFilter extends StackFilter {
  /** `stack_trace_selector.call_site`: keep only stacks starting (root first) with these functions. */
  readonly callSite?: readonly string[];
}

export interface FlamegraphOptions extends MergeFilter {
  /** Nodes to keep (the rest folds into `other`); undefined = DEFAULT_MAX_NODES, 0 = no limit. */
  readonly maxNodes?: number;
}

export interface DiffQueryOptions extends DiffOptions, MergeFilter {
  /** Options of the diff table (normalize is taken from the diff options). */
  readonly table?: Omit<DiffTableOptions, 'normalize'>;
}

export interface DiffResult {
  readonly tree: DiffNode;
  readonly table: DiffTable;
}

/** Merged stacks after the filters, and the value of stacks a limited merge did not fetch. */
interface MergedStacks {
  readonly stacks: WeightedStack[];
  /** Sum of the stacks the store cut (0 when the merge was not limited). */
  readonly remainder: number;
}

/**
 * Everything between a parsed selector and a result, for the server, CLI and UI alike: the only road
 * from a handler to the store's reads. The store aggregates (sum by stack over the range, top K plus a
 * remainder when asked) and resolves symbols for the stacks that come back; trees, tables, filters,
 * trimming and listings are computed here, the same way for every storage engine. Every read passes
 * the query's signal on, so a deadline or a client gone stops the work.
 */
export class QueryEngine {
  constructor(private readonly store: Store) {}

  /** The merged stacks of a selection, root-first, after the filters. Never limited: every stack. */
  async stacks(q: SeriesQuery, filter?: MergeFilter): Promise<WeightedStack[]> {
    return (await this.mergedStacks(q, filter, 0)).stacks;
  }

  /** The merged stacks after the filters, and the value of the stacks a limited merge cut. */
  private async mergedStacks(q: SeriesQuery, filter: MergeFilter | undefined, limit: number): Promise<MergedStacks> {
    checkRange(q);
    // Compile the filters before touching the store: a bad pattern is an error even on an empty range.
    filterStacks([], filter);
    const { rows, resolved, remainder } = await this.merge(q, limit);
    let stacks = weightedStacks(rows, resolved);
    if (filter?.callSite && filter.callSite.length > 0) stacks = withCallSite(stacks, filter.callSite);
    return { stacks: filterStacks(stacks, filter), remainder };
  }

  /**
   * The store's sum by stack (top `limit` plus a remainder row when limit > 0) and the symbols of
   * exactly the stacks kept. OTHER_STACK_ID is a sum, not a stack: it is never resolved.
   */
  private async merge(q: SeriesQuery, limit: number): Promise<{ rows: StackValue[]; resolved: ResolvedStacks; remainder: number }> {
    const merge: MergeQuery = limit > 0 ? { ...q, limit } : q;
    const all = await this.store.mergeStacks(merge);
    q.signal?.throwIfAborted();
    let remainder = 0;
    const rows = all.filter((r) => {
      if (r.stackId !== OTHER_STACK_ID) return true;
      remainder += r.value;
      return false;
    });
    const resolved: ResolvedStacks =
      rows.length === 0 ? { dict: emptyDictionary(), stacks: new Map() } : await this.store.resolveStacks(q.tenant, rows.map((r) => r.stackId), q.signal);
    q.signal?.throwIfAborted();
    return { rows, resolved, remainder };
  }

  async flamegraph(q: SeriesQuery, opts: FlamegraphOptions = {}): Promise<FlameNode> {
    const maxNodes = maxNodesOf(opts.maxNodes);
    // Focus and call site keep some stacks and drop others: a light stack the store cut could be one
    // to keep, and its value cannot be told apart in the remainder. Such merges fetch every stack.
    const selective = !!(opts.focus || opts.focusBinary || (opts.callSite && opts.callSite.length > 0));
    const { stacks, remainder } = await this.mergedStacks(q, opts, selective ? 0 : flameStackLimit(maxNodes));
    return buildTree(stacks, maxNodes, remainder);
  }

  /**
   * Self and total per function over every stack. Never limited: a function's self and total sum over
   * all the stacks it is in, and the functions spread thinnest over light stacks (an allocator, a lock
   * taken everywhere) are exactly what a cut would undercount — the table would disagree with itself
   * over time and with `kiln query top`.
   */
  async top(q: SeriesQuery, opts: TopOptions & MergeFilter = {}): Promise<TopTable> {
    return topTable(await this.stacks(q, opts), opts);
  }

  /** The call graph of a selection (callgraph.ts): every stack, so nodes and edges are exact. */
  async callgraph(q: SeriesQuery, filter?: MergeFilter): Promise<Callgraph> {
    return callgraph(await this.stacks(q, filter));
  }

  /**
   * A merge per label group (e.g. per service_name) in one engine pass, each group's heaviest `limit`
   * stacks (0 = all) with frames and the value cut (see grouped.ts): for overviews of many services.
   */
  groupedStacks(q: SeriesQuery, groupBy: readonly string[], limit: number, filter?: StackFilter): Promise<StackGroup[]> {
    return groupedStacks(this.store, q, groupBy, limit, filter);
  }

  /** Both sides in full: the diff table is a top table per side, exact for the same reason. */
  async diff(base: SeriesQuery, head: SeriesQuery, opts: DiffQueryOptions = {}): Promise<DiffResult> {
    if (base.selector.profileType !== head.selector.profileType) {
      throw new InputError(
        `cannot diff different profile types: base is ${base.selector.profileType}, head is ${head.selector.profileType}`,
      );
    }
    const maxNodes = maxNodesOf(opts.maxNodes);
    const [b, h] = await Promise.all([this.stacks(base, opts), this.stacks(head, opts)]);
    return {
      tree: buildDiffTree(b, h, { normalize: opts.normalize, maxNodes }),
      table: diffTable(b, h, { ...opts.table, normalize: opts.normalize }),
    };
  }

  /** In full: the function may live only in light stacks, which a limited merge would cut. */
  async sandwich(q: SeriesQuery, fn: string, opts: FlamegraphOptions = {}): Promise<Sandwich> {
    if (fn === '') throw new InputError('sandwich needs a function name');
    const maxNodes = maxNodesOf(opts.maxNodes);
    return sandwich(await this.stacks(q, opts), fn, maxNodes);
  }

  /**
   * Totals over time, bucketed by `stepMs` and grouped by labels, in the store. `limit` keeps the
   * series with the largest sums (heaviest first); 0 = all, sorted the same way.
   */
  async series(
    q: SeriesQuery,
    stepMs: number,
    groupBy: readonly string[] = [],
    aggregation: 'sum' | 'avg' = 'sum',
    limit = 0,
  ): Promise<SeriesPoints[]> {
    checkRange(q);
    if (!(stepMs > 0)) throw new InputError(`step must be positive, got ${stepMs} ms`);
    // Engines bucket with 64-bit integers: a step no integer holds would fail there, not as a user error.
    if (!(stepMs <= Number.MAX_SAFE_INTEGER)) throw new InputError(`step ${stepMs} ms is too large`);
    const buckets = Math.ceil((q.to - q.from) / stepMs);
    if (buckets > MAX_SERIES_POINTS) {
      throw new InputError(`step ${stepMs} ms over this range gives ${buckets} points (limit ${MAX_SERIES_POINTS}): use a larger step`);
    }
    // A name given twice groups once; else an engine could hand back a label set naming it twice.
    const series = await this.store.seriesPoints({ ...q, stepMs, groupBy: [...new Set(groupBy)], aggregation });
    const weighted = series.map((s) => ({ s, sum: s.points.reduce((a, p) => a + p.value, 0) }));
    weighted.sort((a, b) => b.sum - a.sum);
    const out = weighted.map((w) => w.s);
    return limit > 0 ? out.slice(0, limit) : out;
  }

  /** `series` (the same arguments after `kind`) with each point's heaviest profile or span as exemplar (profile-reads.ts). */
  async seriesWithExemplars(kind: PointKind, ...args: Parameters<QueryEngine['series']>): Promise<SeriesWithExemplars[]> {
    const [q, stepMs, groupBy = []] = args;
    return withExemplars(this.store, q, await this.series(...args), stepMs, [...new Set(groupBy)], kind);
  }

  /** Stored profiles counted per time slot and value bucket (heatmap.ts). */
  heatmap(q: SeriesQuery, opts: HeatmapQueryOptions): Promise<HeatmapSeries[]> {
    return profileHeatmap(this.store, q, opts);
  }

  /** Series, profiles, sample rows and estimated bytes the listing's selectors would read. */
  footprint(q: LabelQuery): Promise<QueryFootprint> {
    return queryFootprint(this.store, q);
  }

  /**
   * The merge of a selection as one Profile, for pprof export (encoded by formats/pprof.ts). Never
   * limited: pprof has no `other`. With filters or a call site it is built from the filtered stacks'
   * frames (which carry their locations); without, from the same merge's symbols directly, which is
   * the same content for a fraction of the time (see profileOfResolved). Labels are the selector's
   * equality matchers: what every merged series has for sure.
   */
  async mergeProfile(q: SeriesQuery, filter: MergeFilter = {}, maxNodes = 0): Promise<Profile> {
    const header = {
      type: parseProfileType(q.selector.profileType),
      labels: labelsFrom(q.selector.matchers.filter((m) => m.op === '=').map((m) => [m.name, m.value] as const)),
      timeMs: q.from,
      durationNs: (q.to - q.from) * 1e6,
    };
    // max_nodes > 0 (Pyroscope's SelectMergeProfile): cut stacks where they leave the heaviest nodes.
    if (maxNodes > 0) return profileOfStacks(truncateStacks(await this.stacks(q, filter), maxNodes), header);
    if (isEmptyFilter(filter) && !(filter.callSite && filter.callSite.length > 0)) {
      checkRange(q);
      const { rows, resolved } = await this.merge(q, 0);
      const direct = profileOfResolved(rows, resolved, header);
      if (direct) return direct;
      return profileOfStacks(weightedStacks(rows, resolved), header);
    }
    return profileOfStacks(await this.stacks(q, filter), header);
  }

  /** A tenant's first and last profile times (time-bounds.ts); undefined when it has none. */
  timeBounds(tenant: string, signal?: AbortSignal): Promise<TimeBounds | undefined> {
    return profileTimeBounds(this.store, tenant, Date.now(), signal);
  }

  /** Profile types with series that the listing's selectors select (see labels.ts). */
  profileTypes(q: LabelQuery): Promise<ProfileType[]> {
    return listProfileTypes(this.store, q);
  }

  labelNames(q: LabelQuery): Promise<string[]> {
    return listLabelNames(this.store, q);
  }

  labelValues(q: LabelQuery, name: string): Promise<string[]> {
    return listLabelValues(this.store, q, name);
  }

  /** Distinct label sets of the selected series, with their type's private labels; `only` keeps those names. */
  seriesLabels(q: LabelQuery, only: readonly string[] = []): Promise<Labels[]> {
    return listSeriesLabels(this.store, q, only);
  }
}

function maxNodesOf(n: number | undefined): number {
  if (n === undefined) return DEFAULT_MAX_NODES;
  if (!Number.isFinite(n) || n < 0) throw new InputError(`max_nodes must be 0 (no limit) or positive, got ${n}`);
  return Math.floor(n);
}
