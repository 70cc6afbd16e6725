import { describe, expect, it } from 'vitest';
import { InputError, parseProfileType } from '../../src/model/index.js';
import type { WeightedStack } from '../../src/query/stacks.js';
import { compareStacks } from '../../src/insight/compare.js';
import { parseGate } from '../../src/insight/compare-gates.js';
import { renderCompare } from '../../src/insight/compare-render.js';
import { FALLBACK_BYTES_PERIOD, FALLBACK_CPU_PERIOD_NS, samplePeriod } from '../../src/insight/compare-samples.js';
import { erfc, holm, twoProportionTest } from '../../src/insight/significance.js';
import { folded } from '../query/fixtures.js';

/**
 * The regression gate's statistics and gates on stacks made by hand, where every expected figure can be
 * worked out on paper. The real-workload proofs are in test/cli/compare.test.ts.
 */
const COUNT = parseProfileType('process_cpu:samples:count:cpu:nanoseconds');
const CPU = parseProfileType('process_cpu:cpu:nanoseconds:cpu:nanoseconds');

const side = (stacks: Record<string, number>, period = 1) => ({ stacks: folded(stacks), period });

/** A seeded PRNG (xorshift32): the noise test must fail the same way every time if it fails. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** `n` samples drawn from fixed stack probabilities: one sampled run of one workload. */
function sampleRun(probs: Record<string, number>, n: number, next: () => number): Record<string, number> {
  const keys = Object.keys(probs);
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    let u = next();
    let k = keys[keys.length - 1]!;
    for (const key of keys) {
      u -= probs[key]!;
      if (u < 0) {
        k = key;
        break;
      }
    }
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe('significance', () => {
  it('erfc matches tabulated values far into the tail', () => {
    for (const [x, want] of [[0, 1], [1, 0.157299207], [3, 2.20904970e-5], [6, 2.15197367e-17], [-1, 1.842700793]] as const) {
      expect(Math.abs(erfc(x) - want) / want).toBeLessThan(1e-6);
    }
  });

  it('the two-proportion test: equal shares are p = 1, a worked example gives its z', () => {
    expect(twoProportionTest(300, 1000, 300, 1000).pValue).toBe(1);
    // p1 .3, p2 .5, pooled .4: se = sqrt(.4 × .6 × .002) = .021909; (.2 − .001) / se = 9.083
    const t = twoProportionTest(300, 1000, 500, 1000);
    expect(t.z).toBeCloseTo(9.083, 2);
    expect(t.pValue).toBeLessThan(1e-18);
    // 0 vs 5 samples of 10 000: Yates keeps it from looking significant (Fisher's exact test: 0.06).
    expect(twoProportionTest(0, 10_000, 5, 10_000).pValue).toBeCloseTo(0.0736, 3);
    expect(twoProportionTest(5, 0, 5, 10).pValue).toBe(1);
  });

  it('Holm rejects step by step, more than Bonferroni would', () => {
    expect(holm([0.001, 0.04, 0.03, 0.5], 0.05)).toEqual([true, false, false, false]);
    // Bonferroni (0.05 / 3 each) keeps only the first two; Holm's later steps allow 0.025 and 0.05.
    expect(holm([0.01, 0.012, 0.04], 0.05)).toEqual([true, true, true]);
    expect(holm([], 0.05)).toEqual([]);
  });
});

describe('gates', () => {
  it('parses the three forms, with regexes holding parentheses, commas and ">"', () => {
    expect(parseGate('any>+20%')).toMatchObject({ target: 'any', threshold: 20, unit: '%' });
    expect(parseGate(' self(regexp\\.) > +2pp ')).toMatchObject({ target: 'self', threshold: 2, unit: 'pp' });
    const g = parseGate('total(a\\.(b|c),d>e)>+10%');
    expect(g).toMatchObject({ target: 'total', threshold: 10, unit: '%' });
    expect(g.pattern!.test('x.a.c,d>e')).toBe(true);
  });

  it('refuses what it cannot read, naming the gate', () => {
    for (const bad of ['any>20', 'most>+20%', 'total()>+1%', 'total(a(b)>+1%', 'any<+5%', '']) {
      expect(() => parseGate(bad)).toThrow(InputError);
    }
    expect(() => parseGate('total(a(b)>+1%')).toThrow(/total\(a\(b\)>\+1%/);
  });
});

describe('compareStacks', () => {
  const base = { 'main;a': 300, 'main;b': 300, 'main;c': 400 };
  const head = { 'main;a': 600, 'main;b': 300, 'main;c': 400 };

  it('a function doing twice the work: share up 0.30 → 0.4615, significant, named by the any gate', () => {
    const r = compareStacks(COUNT, side(base), side(head), { gates: [parseGate('any>+20%')] });
    const a = r.functions.find((f) => f.name === 'a')!;
    expect(a.total.base).toBeCloseTo(0.3, 6);
    expect(a.total.head).toBeCloseTo(600 / 1300, 6);
    expect(a.total.relative).toBeCloseTo(600 / 1300 / 0.3 - 1, 6);
    expect(a.total.significant).toBe(true);
    // b and c lost share: significant, but down — never a regression.
    expect(r.passed).toBe(false);
    expect(r.gates[0]!.offenders.map((o) => o.name)).toEqual(['a']);
    expect(r.gates[0]!.message).toMatch(/^any>\+20% broken: a total 30\.00% → 46\.15% \(\+16\.15 pp, \+53\.8%, p=/);
    expect(r.functions[0]!.name).toBe('a'); // significant and the largest change first
    expect(r.tests).toBe(2 * r.functionCount);
  });

  it('regex gates look at the matching functions together, in pp or %', () => {
    const r = compareStacks(COUNT, side(base), side(head), {
      gates: [parseGate('self(^a$)>+10pp'), parseGate('total(^[bc]$)>+1pp'), parseGate('total(nothing)>+1%')],
    });
    expect(r.gates.map((g) => g.broken)).toEqual([true, false, false]);
    expect(r.gates[0]!.message).toContain('a self 30.00% → 46.15%');
    expect(r.gates[1]!.message).toMatch(/holds: \/\^\[bc\]\$\/ total 70\.00% → 53\.85%/);
    expect(r.gates[2]!.message).toMatch(/no function matches nothing/);
  });

  it('a rise inside sampling noise breaks no gate: 20 pairs of runs of one workload', () => {
    // Three functions of one workload, 2 000 samples a run: shares wander by ~1 pp between runs.
    const probs = { 'main;a': 0.3, 'main;b': 0.3, 'main;c;d': 0.38, 'main;e': 0.02 };
    const next = rng(42);
    for (let i = 0; i < 20; i++) {
      const r = compareStacks(COUNT, side(sampleRun(probs, 2000, next)), side(sampleRun(probs, 2000, next)), {
        gates: [parseGate('any>+20%'), parseGate('total(d)>+1pp'), parseGate('self(e)>+0.1pp')],
      });
      expect(r.gates.filter((g) => g.broken).map((g) => g.message)).toEqual([]);
    }
  });

  it('counts are value / period: the same shares from 100× fewer samples are not significant', () => {
    const small = compareStacks(CPU, side({ 'main;a': 30e7, 'main;b': 70e7 }, 1e7), side({ 'main;a': 40e7, 'main;b': 60e7 }, 1e7));
    expect(small.base.samples).toBe(100);
    expect(small.significantCount).toBe(0);
    const large = compareStacks(CPU, side({ 'main;a': 30e9, 'main;b': 70e9 }, 1e7), side({ 'main;a': 40e9, 'main;b': 60e9 }, 1e7));
    expect(large.significantCount).toBeGreaterThan(0);
  });

  it('a function new in the head has no relative change but breaks a % gate when significant', () => {
    const r = compareStacks(COUNT, side({ 'main;a': 1000 }), side({ 'main;a': 900, 'main;new': 100 }), { gates: [parseGate('any>+50%')] });
    const n = r.functions.find((f) => f.name === 'new')!;
    expect(n.total.relative).toBeNull();
    expect(r.gates[0]!.broken).toBe(true);
    expect(r.gates[0]!.message).toContain('new total 0.00% → 10.00% (+10.00 pp, new,');
  });

  it('an empty side is bad input; limit and alpha are honoured', () => {
    expect(() => compareStacks(COUNT, side({}), side(head))).toThrow(/base has no samples/);
    expect(() => compareStacks(COUNT, side(base), side({ 'main;a': 0 }))).toThrow(/head has no samples/);
    expect(() => compareStacks(COUNT, side(base), side(head), { alpha: 2 })).toThrow(InputError);
    expect(compareStacks(COUNT, side(base), side(head), { limit: 2 }).functions).toHaveLength(2);
    expect(compareStacks(COUNT, side(base), side(head), { limit: 0 }).functions).toHaveLength(4);
  });
});

describe('samplePeriod', () => {
  const stacks = (...values: number[]): WeightedStack[] => values.map((value) => ({ frames: [], value }));
  it('takes the declared period, else the gcd, else the slowest common rate', () => {
    expect(samplePeriod(CPU, stacks(3e7, 5e7), [1e7, 2e7])).toBe(2e7);
    expect(samplePeriod(CPU, stacks(3e7, 5e7))).toBe(1e7);
    // Merged 19 Hz values are rounded per profile: their gcd is no period.
    expect(samplePeriod(CPU, stacks(52631579, 105263157))).toBe(FALLBACK_CPU_PERIOD_NS);
    expect(samplePeriod(COUNT, stacks(3, 5))).toBe(1);
    expect(samplePeriod(COUNT, stacks(1001001, 3003003))).toBe(1001001); // perf script's event periods
    expect(samplePeriod(parseProfileType('memory:alloc_space:bytes:space:bytes'), stacks(48, 96))).toBe(FALLBACK_BYTES_PERIOD);
  });
});

describe('renderCompare', () => {
  const report = compareStacks(COUNT, side({ 'main;a<&>': 300, 'main;b': 700 }), side({ 'main;a<&>': 600, 'main;b': 700 }), {
    gates: [parseGate('any>+20%'), parseGate('self(b)>+1pp')],
  });

  it('junit: one case per gate, the broken one failed with the message, names escaped', () => {
    const xml = renderCompare(report, 'junit');
    expect(xml).toContain('<testsuites name="kiln compare" tests="2" failures="1">');
    expect(xml).toMatch(/<testcase classname="kiln.compare" name="any&#62;\+20%">\s*<failure message="any&#62;\+20% broken: a&#60;&#38;&#62; total 30\.00% → 46\.15%/);
    expect(xml).toContain('<testcase classname="kiln.compare" name="self(b)&#62;+1pp"></testcase>');
    expect(xml).not.toMatch(/a<&>/);
  });

  it('text and markdown name the function and both shares; json round-trips', () => {
    expect(renderCompare(report, 'text')).toMatch(/FAIL any>\+20% broken: a<&> total 30\.00% → 46\.15%/);
    // Self and total, absolute (pp) and relative, for the function that changed.
    expect(renderCompare(report, 'text')).toMatch(/30\.00% +46\.15% +\+16\.15pp\* +\+53\.8% +30\.00% +46\.15% +\+16\.15pp\* +\+53\.8% +[^ ]+ +a<&>\n/);
    const md = renderCompare(report, 'markdown');
    expect(md).toContain('### Kiln compare: ❌ regression');
    expect(md).toMatch(/\| 30\.00% \| 46\.15% \| \+16\.15pp\* \| \+53\.8% \|.*\| `a<&>` \|/);
    expect(JSON.parse(renderCompare(report, 'json'))).toEqual(JSON.parse(JSON.stringify(report)));
  });
});
