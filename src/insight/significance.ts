/**
 * Is a change in a function's share of the samples more than sampling noise?
 *
 * A profiler samples: a function holding 30 % of the CPU shows in about 30 % of the samples, give or take
 * the binomial spread. Two profiles of the same code therefore differ by a little in every function, and
 * a gate that fired on any difference would fail every CI run. The test below asks whether the two
 * shares can be told apart given the *sample counts* (value / sampling period), not the values: ten
 * seconds of CPU is 1 000 samples at 100 Hz but 190 at 19 Hz, and only the count says how noisy it is.
 *
 * Two-proportion z-test, pooled, with Yates' continuity correction: for small counts the normal tail
 * without the correction is too eager (0 vs 5 samples out of 10 000 gives p = 0.025 uncorrected, 0.07
 * corrected; Fisher's exact test says 0.06). Every function is tested, self and total, so the p-values
 * are corrected for multiplicity with Holm's step-down (as strong as Bonferroni's family-wise bound,
 * never less powerful): at alpha 0.01, two profiles of the same workload are reported as different in at
 * most one comparison of 100 (samples taken independently), however many functions they hold.
 */

export interface ProportionTest {
  /** Signed: positive when the head's share is larger. 0 when there is nothing to compare. */
  readonly z: number;
  /** Two-sided p-value of "both shares are the same", before any multiplicity correction. */
  readonly pValue: number;
}

/**
 * `x1` of `n1` samples against `x2` of `n2`. Counts may be fractional (values over a period that does
 * not divide them); they are clamped to [0, n].
 */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): ProportionTest {
  if (!(n1 > 0) || !(n2 > 0)) return { z: 0, pValue: 1 };
  const a = Math.min(Math.max(x1, 0), n1);
  const b = Math.min(Math.max(x2, 0), n2);
  const p1 = a / n1;
  const p2 = b / n2;
  const pooled = (a + b) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const corrected = Math.max(0, Math.abs(p2 - p1) - 0.5 * (1 / n1 + 1 / n2));
  const z = (Math.sign(p2 - p1) * corrected) / se;
  return { z, pValue: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)) };
}

/**
 * Holm's step-down over a family of p-values: `rejected[i]` is true when test i is significant at
 * family-wise level `alpha`. Sort ascending; reject while p(k) < alpha / (m - k); stop at the first that is not.
 */
export function holm(pValues: readonly number[], alpha: number): boolean[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const rejected = new Array<boolean>(m).fill(false);
  for (let k = 0; k < m; k++) {
    const [p, i] = order[k]!;
    if (!(p < alpha / (m - k))) break;
    rejected[i] = true;
  }
  return rejected;
}

/**
 * Complementary error function, relative error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev
 * fit): the normal tail stays accurate far out (z = 10 → 1.5e-23), where `1 - erf` would round to 0 and
 * every strong regression would tie at p = 0.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
