import { InputError } from '../model/errors.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import { parseProfileType } from '../model/profile-type.js';
import { emptyDictionary } from '../model/symbols.js';
import type { ResolvedStacks, SeriesPoints, SeriesQuery, StackValue, Store } from '../store/store.js';
import type { DiffNode, DiffOptions, DiffTable, DiffTableOptions } from './diff.js';
import { buildDiffTree, diffTable } from './diff.js';
import type { Sandwich } from './sandwich.js';
import { sandwich } from './sandwich.js';
import type { StackFilter, WeightedStack } from './stacks.js';
import { filterStacks, weightedStacks } from './stacks.js';
import { checkRange } from './time.js';
import type { TopOptions, TopTable } from './top.js';
import { topTable } from './top.js';
import type { FlameNode } from './tree.js';
import { buildTree } from './tree.js';

/** Pyroscope's default for max_nodes: enough detail for a screen, small enough for a browser. */
export const DEFAULT_MAX_NODES = 8192;

/** Series buckets one query may ask for (Prometheus caps a range query at 11 000 points). */
export const MAX_SERIES_POINTS = 11_000;

export interface FlamegraphOptions extends StackFilter {
  /** Nodes to keep (the rest folds into `other`); undefined = DEFAULT_MAX_NODES, 0 = no limit. */
  readonly maxNodes?: number;
}

export interface DiffQueryOptions extends DiffOptions, StackFilter {
  /** Options of the diff table (normalize is taken from the diff options). */
  readonly table?: Omit<DiffTableOptions, 'normalize'>;
}

export interface DiffResult {
  readonly tree: DiffNode;
  readonly table: DiffTable;
}

/**
 * Everything between a parsed selector and a result, for the server, CLI and UI alike. The store
 * aggregates (sum by stack over the range) and resolves symbols for the stacks that come back; the
 * tree, tables, filters and trimming are computed here, the same way for every storage engine.
 */
export class QueryEngine {
  constructor(readonly store: Store) {}

  /** The merged stacks of a selection, root-first, after the filters. */
  async stacks(q: SeriesQuery, filter?: StackFilter): Promise<WeightedStack[]> {
    checkRange(q);
    // Compile the filters before touching the store: a bad pattern is an error even on an empty range.
    filterStacks([], filter);
    const { rows, resolved } = await this.merge(q);
    return filterStacks(weightedStacks(rows, resolved), filter);
  }

  /** The store's sum by stack over the selection, and the symbols of exactly those stacks. */
  private async merge(q: SeriesQuery): Promise<{ rows: StackValue[]; resolved: ResolvedStacks }> {
    const rows = await this.store.mergeStacks(q);
    if (rows.length === 0) return { rows, resolved: { dict: emptyDictionary(), stacks: new Map() } };
    return { rows, resolved: await this.store.resolveStacks(q.tenant, rows.map((r) => r.stackId)) };
  }

  async flamegraph(q: SeriesQuery, opts: FlamegraphOptions = {}): Promise<FlameNode> {
    const maxNodes = maxNodesOf(opts.maxNodes);
    return buildTree(await this.stacks(q, opts), maxNodes);
  }

  async top(q: SeriesQuery, opts: TopOptions & StackFilter = {}): Promise<TopTable> {
    return topTable(await this.stacks(q, opts), opts);
  }

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

  /**
   * The merge of a selection as one Profile, for pprof export (encoded by formats/pprof.ts).
   * Labels are the selector's equality matchers: what every merged series has in common for sure.
   */
  async mergeProfile(q: SeriesQuery): Promise<Profile> {
    checkRange(q);
    const { rows, resolved } = await this.merge(q);
    const stacks: number[] = [];
    const values: number[] = [];
    for (const r of rows) {
      const i = resolved.stacks.get(r.stackId);
      if (i === undefined || r.value === 0) continue;
      stacks.push(i);
      values.push(r.value);
    }
    return {
      type: parseProfileType(q.selector.profileType),
      labels: labelsFrom(q.selector.matchers.filter((m) => m.op === '=').map((m) => [m.name, m.value] as const)),
      timeMs: q.from,
      durationNs: (q.to - q.from) * 1e6,
      period: 0,
      dict: resolved.dict,
      stacks,
      values,
    };
  }
}

function maxNodesOf(n: number | undefined): number {
  if (n === undefined) return DEFAULT_MAX_NODES;
  if (!Number.isFinite(n) || n < 0) throw new InputError(`max_nodes must be 0 (no limit) or positive, got ${n}`);
  return Math.floor(n);
}
