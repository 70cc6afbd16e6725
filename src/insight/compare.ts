import { InputError } from '../model/errors.js';
import type { ProfileType } from '../model/profile-type.js';
import { profileTypeId } from '../model/profile-type.js';
import type { WeightedStack } from '../query/stacks.js';
import { topTable } from '../query/top.js';
import type { Gate } from './compare-gates.js';
import { exceeds, relativeChange } from './compare-gates.js';
import { groupValue } from './compare-groups.js';
import { holm, twoProportionTest } from './significance.js';

/**
 * The regression gate's comparison, once for the CLI (`kiln compare`) and the server (`/api/v1/compare`):
 * two merged selections (from the query layer, or profile files merged by it) → every function's self and
 * total share on each side, the change absolute (percentage points) and relative, a significance test
 * on the sample counts, and the gates. Shares, not values: a head run twice as long is not a regression.
 */
export interface CompareSide {
  /** The merged stacks (QueryEngine.stacks). */
  readonly stacks: readonly WeightedStack[];
  /** Value one sample stands for (compare-samples.ts); values / period = sample counts. */
  readonly period: number;
  /**
   * The same stacks weighted by their sample counts, when those are known per stack rather than by one
   * period (Go heap profiles: compare-samples.ts heapSampleCounts). Overrides `period` for the test.
   */
  readonly counts?: readonly WeightedStack[];
  /** How `counts` were had: from each record before merging (exact), or from merged stacks (an upper bound). */
  readonly countsFrom?: CountSource;
}

export type CountSource = 'records' | 'merged stacks';

export interface CompareOptions {
  /** Family-wise significance level over all functions (self and total). Default DEFAULT_ALPHA. */
  readonly alpha?: number;
  readonly gates?: readonly Gate[];
  /** Functions listed in the report (0 = all). Gates always look at every function. Default 20. */
  readonly limit?: number;
}

/**
 * 1 %: two profiles of one workload are called different in at most one comparison of a hundred. CI runs
 * this on every commit, so a false alarm costs more than a regression caught one commit later.
 */
export const DEFAULT_ALPHA = 0.01;
export const DEFAULT_LIMIT = 20;

/** One share (self or total) on both sides. Shares are fractions of the side's total (0..1). */
export interface ShareChange {
  readonly base: number;
  readonly head: number;
  /** head − base, as a fraction (× 100 = percentage points). */
  readonly delta: number;
  /** (head − base) / base; null when the base share is 0. */
  readonly relative: number | null;
  /** Two-sided p-value of the two-proportion test on sample counts, uncorrected. */
  readonly pValue: number;
  /** Significant after Holm's correction over every test of the comparison. */
  readonly significant: boolean;
}

export interface FunctionChange {
  readonly name: string;
  /** Values in the type's unit, as the query layer's top table gives them. */
  readonly baseSelf: number;
  readonly baseTotal: number;
  readonly headSelf: number;
  readonly headTotal: number;
  readonly self: ShareChange;
  readonly total: ShareChange;
}

export interface SideFigures {
  /** Sum of all values. */
  readonly total: number;
  /** Sample counts the test used: total / period, or the sum of per-stack counts. */
  readonly samples: number;
  /** total / samples: the value one sample stands for (on average, with per-stack counts). */
  readonly period: number;
  /** Set when the counts are per stack rather than value / period (see CompareSide.countsFrom). */
  readonly countsFrom?: CountSource;
}

/** What broke a gate (or came closest), with both sides' shares. */
export interface GateOffender {
  readonly name: string;
  readonly base: number;
  readonly head: number;
  readonly relative: number | null;
  readonly pValue: number;
}

export interface GateResult {
  readonly gate: string;
  readonly broken: boolean;
  /** One line a CI log can show as is: names the function, base and head values. */
  readonly message: string;
  /** For any(): every function that broke it; for total()/self(): the group, then its matching functions that rose most. */
  readonly offenders: GateOffender[];
}

export interface CompareReport {
  readonly profileType: string;
  readonly unit: string;
  readonly alpha: number;
  /** Number of tests the correction spread alpha over (2 per function). */
  readonly tests: number;
  readonly base: SideFigures;
  readonly head: SideFigures;
  /** Functions in both sides together, and how many of them changed significantly (self or total). */
  readonly functionCount: number;
  readonly significantCount: number;
  /** Significant changes first, then by size of the change (percentage points); `limit` of them. */
  readonly functions: FunctionChange[];
  readonly gates: GateResult[];
  /** No gate broken. */
  readonly passed: boolean;
}

interface Row {
  name: string;
  baseSelf: number;
  baseTotal: number;
  headSelf: number;
  headTotal: number;
}

/** One side as the test sees it: values for shares, sample counts (per function) for significance. */
interface TestSide {
  readonly side: CompareSide;
  readonly figures: SideFigures;
  /** The stacks weighted by sample counts. */
  readonly countStacks: readonly WeightedStack[];
  /** Per function: self and total sample counts. */
  readonly counts: ReadonlyMap<string, { readonly self: number; readonly total: number }>;
}

function testSide(side: CompareSide, total: number): TestSide {
  const p = side.period > 0 ? side.period : 1;
  const countStacks = side.counts ?? side.stacks.map((st) => ({ frames: st.frames, value: st.value / p }));
  const table = topTable(countStacks);
  const samples = table.total;
  return {
    side,
    figures: { total, samples, period: samples > 0 ? total / samples : p, ...(side.counts && side.countsFrom ? { countsFrom: side.countsFrom } : {}) },
    countStacks,
    counts: new Map(table.entries.map((e) => [e.name, { self: e.self, total: e.total }])),
  };
}

export function compareStacks(type: ProfileType, base: CompareSide, head: CompareSide, opts: CompareOptions = {}): CompareReport {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`alpha must be between 0 and 1, got ${alpha}`);
  const bt = topTable(base.stacks);
  const ht = topTable(head.stacks);
  if (bt.total <= 0) throw new InputError('the base has no samples: check its selector, range or files');
  if (ht.total <= 0) throw new InputError('the head has no samples: check its selector, range or files');
  const sides: Sides = { base: testSide(base, bt.total), head: testSide(head, ht.total) };

  const rows = new Map<string, Row>();
  for (const e of bt.entries) rows.set(e.name, { name: e.name, baseSelf: e.self, baseTotal: e.total, headSelf: 0, headTotal: 0 });
  for (const e of ht.entries) {
    const r = rows.get(e.name) ?? { name: e.name, baseSelf: 0, baseTotal: 0, headSelf: 0, headTotal: 0 };
    r.headSelf = e.self;
    r.headTotal = e.total;
    rows.set(e.name, r);
  }
  const list = [...rows.values()];
  // Two tests per function (self, total), one family: Holm over all of them.
  const tests = list.flatMap((r) => {
    const bc = sides.base.counts.get(r.name);
    const hc = sides.head.counts.get(r.name);
    return [testShares(r.baseSelf, r.headSelf, bc?.self ?? 0, hc?.self ?? 0, sides), testShares(r.baseTotal, r.headTotal, bc?.total ?? 0, hc?.total ?? 0, sides)];
  });
  const significant = holm(
    tests.map((t) => t.pValue),
    alpha,
  );
  const all: FunctionChange[] = list.map((r, i) => ({
    ...r,
    self: { ...tests[2 * i]!, significant: significant[2 * i]! },
    total: { ...tests[2 * i + 1]!, significant: significant[2 * i + 1]! },
  }));
  all.sort(byChange);

  const regexGates = (opts.gates ?? []).filter((g) => g.target !== 'any').length;
  const gates = (opts.gates ?? []).map((g) =>
    g.target === 'any' ? anyGate(g, all) : groupGate(g, all, sides, alpha / Math.max(1, regexGates)),
  );
  const limit = opts.limit ?? DEFAULT_LIMIT;
  return {
    profileType: profileTypeId(type),
    unit: type.sampleUnit,
    alpha,
    tests: tests.length,
    base: sides.base.figures,
    head: sides.head.figures,
    functionCount: all.length,
    significantCount: all.filter((f) => f.self.significant || f.total.significant).length,
    functions: limit > 0 ? all.slice(0, limit) : all,
    gates,
    passed: gates.every((g) => !g.broken),
  };
}

type Sides = { base: TestSide; head: TestSide };

/** The shares of one value on each side and the test on its sample counts (not yet corrected). */
function testShares(baseValue: number, headValue: number, baseCount: number, headCount: number, sides: Sides): Omit<ShareChange, 'significant'> {
  const b = baseValue / sides.base.figures.total;
  const h = headValue / sides.head.figures.total;
  const t = twoProportionTest(baseCount, sides.base.figures.samples, headCount, sides.head.figures.samples);
  return { base: b, head: h, delta: h - b, relative: relativeChange(b, h), pValue: t.pValue };
}

function magnitude(f: FunctionChange): number {
  return Math.max(Math.abs(f.total.delta), Math.abs(f.self.delta));
}

function byChange(a: FunctionChange, b: FunctionChange): number {
  const sa = a.total.significant || a.self.significant ? 1 : 0;
  const sb = b.total.significant || b.self.significant ? 1 : 0;
  // Ties (a caller and its only callee) go to the function whose own share moved: that is where the time went.
  return sb - sa || magnitude(b) - magnitude(a) || Math.abs(b.self.delta) - Math.abs(a.self.delta) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function offender(name: string, s: ShareChange | Omit<ShareChange, 'significant'>): GateOffender {
  return { name, base: s.base, head: s.head, relative: s.relative, pValue: s.pValue };
}

/** any>…: each function's total share, significant after the correction. */
function anyGate(gate: Gate, all: readonly FunctionChange[]): GateResult {
  const broke = all.filter((f) => f.total.significant && exceeds(gate, f.total.base, f.total.head));
  // A caller and its only callee rise together; the one whose own (self) share rose is named first.
  broke.sort((a, b) => b.total.delta - a.total.delta || b.self.delta - a.self.delta || (a.name < b.name ? -1 : 1));
  const offenders = broke.map((f) => offender(f.name, f.total));
  if (offenders.length === 0) {
    return { gate: gate.text, broken: false, message: `${gate.text}: no function's total share rose past the threshold beyond sampling noise`, offenders };
  }
  const more = offenders.length > 1 ? ` (and ${offenders.length - 1} more: ${offenders.slice(1, 4).map((o) => o.name).join(', ')}${offenders.length > 4 ? ', …' : ''})` : '';
  return { gate: gate.text, broken: true, message: `${gate.text} broken: ${describe(offenders[0]!, 'total')}${more}`, offenders };
}

/** total(RE)/self(RE): the matching functions as one group, tested once at its share of alpha. */
function groupGate(gate: Gate, all: readonly FunctionChange[], sides: Sides, alpha: number): GateResult {
  const kind = gate.target === 'self' ? 'self' : 'total';
  const value = (stacks: readonly WeightedStack[]) => groupValue(stacks, gate.pattern!, kind);
  const t = testShares(value(sides.base.side.stacks), value(sides.head.side.stacks), value(sides.base.countStacks), value(sides.head.countStacks), sides);
  const significant = t.pValue < alpha;
  const members = all.filter((f) => gate.pattern!.test(f.name));
  members.sort((x, y) => y[kind].delta - x[kind].delta || (x.name < y.name ? -1 : 1));
  const group = offender(`/${gate.pattern!.pattern}/`, t);
  const offenders = [group, ...members.slice(0, 3).map((f) => offender(f.name, f[kind]))];
  if (members.length === 0) {
    return { gate: gate.text, broken: false, message: `${gate.text}: no function matches ${gate.pattern!.pattern} on either side`, offenders: [] };
  }
  const top = members[0]!;
  const named = `; rose most: ${describe(offender(top.name, top[kind]), kind)}`;
  const broken = significant && exceeds(gate, t.base, t.head);
  if (broken) return { gate: gate.text, broken, message: `${gate.text} broken: ${describe(group, kind)}${named}`, offenders };
  const why = exceeds(gate, t.base, t.head) ? ', a change within sampling noise' : '';
  return { gate: gate.text, broken, message: `${gate.text} holds: ${describe(group, kind)}${why}`, offenders };
}

/** `json.decode total 12.00% → 31.50% (+19.50 pp, +162.5%, p=3.1e-12)` */
export function describe(o: GateOffender, kind: 'self' | 'total'): string {
  const pp = (o.head - o.base) * 100;
  const rel = o.relative === null ? 'new' : `${o.relative >= 0 ? '+' : ''}${(o.relative * 100).toFixed(1)}%`;
  return `${o.name} ${kind} ${pct(o.base)} → ${pct(o.head)} (${pp >= 0 ? '+' : ''}${pp.toFixed(2)} pp, ${rel}, p=${formatP(o.pValue)})`;
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

export function formatP(p: number): string {
  // Far in the tail the normal approximation underflows to 0: say how small, not "0".
  if (p < 1e-99) return '<1e-99';
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}
