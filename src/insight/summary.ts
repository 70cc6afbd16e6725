import { InputError } from '../model/errors.js';
import type { ProfileType } from '../model/profile-type.js';
import { profileTypeId } from '../model/profile-type.js';
import type { WeightedStack } from '../query/stacks.js';
import type { FlameNode } from '../query/tree.js';
import { buildTree } from '../query/tree.js';
import { topTable } from '../query/top.js';
import type { CompareReport } from './compare.js';
import { packageOf } from './summary-package.js';

/**
 * A compact description of a merged profile for a reader with little room — a person in a chat, or an
 * LLM with a token budget: where the time goes (hot paths, hottest functions, by binary and package)
 * and, against a base, what changed beyond sampling noise (compare.ts). Built from the query layer's
 * merge, its tree and its top table; names are kept raw here and replaced, when asked, by redact.ts
 * before anything is rendered (summary-render.ts fits the text into a token budget).
 *
 * Every list is sorted most important first, so a budget is met by cutting lists from the end.
 */
export interface Summary {
  readonly profileType: string;
  readonly unit: string;
  /** What was summarized: a selector (its label values are names too), or `N profile files` (never a file name). */
  readonly selection: string;
  /** RFC 3339, when the selection is a time range. */
  readonly from?: string;
  readonly until?: string;
  /** Sum of values, in `unit`, and the sample count it stands for. */
  readonly total: number;
  readonly samples: number;
  /** Root → leaf paths through the flame graph that hold a large share, heaviest first. */
  readonly hotPaths: HotPath[];
  /** Functions by self share (running themselves when sampled). */
  readonly hottest: FunctionShare[];
  /** Functions by total share that the hottest list does not already hold (callers doing the work through callees). */
  readonly callers: FunctionShare[];
  /** Self share by the binary (mapping) of the leaf frame, and by package of the leaf function. */
  readonly binaries: GroupShare[];
  readonly packages: GroupShare[];
  readonly changes?: SummaryChanges;
}

export interface HotPath {
  /** Share of all samples in stacks through this path (0..1). */
  readonly share: number;
  readonly frames: string[];
}

export interface FunctionShare {
  readonly name: string;
  readonly self: number;
  readonly total: number;
  /** Source file of the function where known ('' otherwise) and its binary. */
  readonly file: string;
  readonly binary: string;
}

export interface GroupShare {
  readonly name: string;
  readonly share: number;
}

export interface SummaryChanges {
  /** What the profile was compared against (a selector or a count of files). */
  readonly base: string;
  readonly significant: number;
  readonly functions: ChangeLine[];
}

export interface ChangeLine {
  readonly name: string;
  readonly totalBase: number;
  readonly totalHead: number;
  readonly selfBase: number;
  readonly selfHead: number;
}

/** Upper bounds of each list before a budget cuts them (summary-render.ts). */
export const SUMMARY_LIMITS = { hotPaths: 12, hottest: 20, callers: 10, binaries: 8, packages: 10, changes: 15 } as const;

/** A path ends where no child holds this share of the whole; below it a path is detail, not a hot path. */
const HOT_PATH_SHARE = 0.02;

export interface SummaryInput {
  readonly type: ProfileType;
  readonly stacks: readonly WeightedStack[];
  /** Value per sample (compare-samples.ts). */
  readonly period: number;
  readonly selection: string;
  readonly from?: number;
  readonly until?: number;
  /** A comparison of this profile (head) against a base, for "what changed". */
  readonly changes?: { readonly base: string; readonly report: CompareReport };
}

export function summarize(input: SummaryInput): Summary {
  const top = topTable(input.stacks, { sort: 'self' });
  if (top.total <= 0) throw new InputError(`${input.selection}: no samples to summarize (check the selector, range or files)`);
  const where = locations(input.stacks);
  const share = (v: number) => v / top.total;
  const fn = (e: { name: string; self: number; total: number }): FunctionShare => ({
    name: e.name,
    self: share(e.self),
    total: share(e.total),
    file: where.get(e.name)?.file ?? '',
    binary: where.get(e.name)?.binary ?? '',
  });
  const hottest = top.entries.filter((e) => e.self > 0).slice(0, SUMMARY_LIMITS.hottest);
  const listed = new Set(hottest.map((e) => e.name));
  const callers = [...top.entries].sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1)).filter((e) => !listed.has(e.name));
  return {
    profileType: profileTypeId(input.type),
    unit: input.type.sampleUnit,
    selection: input.selection,
    ...(input.from !== undefined ? { from: new Date(input.from).toISOString() } : {}),
    ...(input.until !== undefined ? { until: new Date(input.until).toISOString() } : {}),
    total: top.total,
    samples: Math.round(top.total / (input.period > 0 ? input.period : 1)),
    hotPaths: hotPaths(buildTree(input.stacks), top.total).slice(0, SUMMARY_LIMITS.hotPaths),
    hottest: hottest.map(fn),
    // A caller whose total is all but 100 % (the process root, main) says nothing: leave those out.
    callers: callers.filter((e) => share(e.total) < 0.99).slice(0, SUMMARY_LIMITS.callers).map(fn),
    binaries: leafGroups(input.stacks, (f) => f.binary || '(unknown binary)', top.total).slice(0, SUMMARY_LIMITS.binaries),
    packages: leafGroups(input.stacks, (f) => packageOf(f.name), top.total).slice(0, SUMMARY_LIMITS.packages),
    ...(input.changes ? { changes: changesOf(input.changes.base, input.changes.report) } : {}),
  };
}

/** First file and binary seen per function name (names are what the lists show). */
function locations(stacks: readonly WeightedStack[]): Map<string, { file: string; binary: string }> {
  const out = new Map<string, { file: string; binary: string }>();
  for (const s of stacks) for (const f of s.frames) if (!out.has(f.name) || (out.get(f.name)!.file === '' && f.file !== '')) out.set(f.name, { file: f.file, binary: f.binary });
  return out;
}

/**
 * Walks the flame graph from the root into every child holding at least HOT_PATH_SHARE of the whole;
 * a path ends at a node none of whose children does. Each path's share is its last node's total.
 */
function hotPaths(root: FlameNode, total: number): HotPath[] {
  const min = total * HOT_PATH_SHARE;
  const out: HotPath[] = [];
  const go = (n: FlameNode, path: string[]): void => {
    const heavy = n.children.filter((c) => c.total >= min);
    if (heavy.length === 0 && path.length > 0) {
      out.push({ share: n.total / total, frames: path });
      return;
    }
    for (const c of heavy) go(c, [...path, c.name]);
  };
  go(root, []);
  return out.sort((a, b) => b.share - a.share);
}

function leafGroups(stacks: readonly WeightedStack[], key: (f: WeightedStack['frames'][number]) => string, total: number): GroupShare[] {
  const sums = new Map<string, number>();
  for (const s of stacks) {
    const leaf = s.frames[s.frames.length - 1];
    if (!leaf) continue;
    const k = key(leaf);
    sums.set(k, (sums.get(k) ?? 0) + s.value);
  }
  return [...sums].map(([name, v]) => ({ name, share: v / total })).sort((a, b) => b.share - a.share || (a.name < b.name ? -1 : 1));
}

function changesOf(base: string, r: CompareReport): SummaryChanges {
  const significant = r.functions.filter((f) => f.total.significant || f.self.significant);
  return {
    base,
    significant: r.significantCount,
    functions: significant.slice(0, SUMMARY_LIMITS.changes).map((f) => ({
      name: f.name,
      totalBase: f.total.base,
      totalHead: f.total.head,
      selfBase: f.self.base,
      selfHead: f.self.head,
    })),
  };
}
