/**
 * --adaptive: a per-node budget of CPU samples per second, moved toward processes whose profiles
 * change and away from stable ones. The perf events keep sampling at --frequency; the BPF program keeps
 * each process's samples with the probability the agent last set for it (`rates` map) and drops the
 * rest after one hash lookup, before any stack is walked. Each interval the agent:
 *  - estimates each process's full-rate samples (kept / keep probability),
 *  - scores how much its profile moved: half the L1 distance between this interval's leaf-function
 *    shares and their running average (0 = same profile, 1 = nothing in common; new processes score 1),
 *    less the distance sampling noise alone would make at the samples it kept — otherwise a stable
 *    process looks as if it moved because it was kept sparsely, gets more budget, and the budget stops
 *    following real change,
 *  - holds a change for a few intervals: the score that weighs is the larger of this interval's and
 *    HOLD × the last one held — an interval that happens to straddle a phase switch reads the same mix
 *    as the running average and scores 0, and without the hold a changing process lost its budget in
 *    exactly those intervals (2 of 11 in one run of proof-adaptive; enough of them failed it in CI),
 *  - shares the budget in proportion to samples × (0.1 + held score), and sets keep = share / samples,
 *    clamped to [minKeep, 1].
 * Counts are divided by the keep probability in force during the interval (BuildOptions.keptShare) and
 * the profile's period is the effective one, so values stay in true CPU time.
 */

export interface AdaptiveOptions {
  /** Samples per second the whole node may keep. */
  readonly budgetPerSecond: number;
  /** The least share of a process's samples kept, however stable it is. */
  readonly minKeep?: number;
  /** Intervals a process may go unseen before its rate is forgotten. */
  readonly forgetAfter?: number;
}

interface ProcessState {
  keep: number;
  /** The keep in force before the last change, until `since`. */
  before: number;
  /** When the kernel got `keep` (Unix ms, applied()); undefined: before any interval now read. */
  since: number | undefined;
  /** Running average of its leaf-function shares. */
  average: Map<string, number> | undefined;
  unseen: number;
  lastScore: number;
  /** The score the budget follows: a change held for a few intervals, decaying by HOLD each. */
  heldScore: number;
}

export interface IntervalObservation {
  readonly pid: number;
  /** CPU samples the kernel kept for it this interval. */
  readonly kept: number;
  /** Leaf function → kept samples. */
  readonly leaves: ReadonlyMap<string, number>;
}

export interface RateChange {
  readonly pid: number;
  /** New keep probability; undefined: forget the process (back to keeping everything). */
  readonly keep: number | undefined;
}

const SMOOTHING = 0.3;
const BASE_WEIGHT = 0.1;
/** What is left of a held change after one interval: ≈ 0.1 of it after six. */
const HOLD = 0.7;

export class AdaptiveController {
  private readonly processes = new Map<number, ProcessState>();
  private readonly minKeep: number;
  private readonly forgetAfter: number;

  constructor(private readonly options: AdaptiveOptions) {
    this.minKeep = options.minKeep ?? 1 / 16;
    this.forgetAfter = options.forgetAfter ?? 6;
  }

  /** The keep probability in force for a process during the interval just read (1 if never set). */
  keepOf(pid: number): number {
    return this.processes.get(pid)?.keep ?? 1;
  }

  /**
   * The share of a process's samples the kernel kept over a window (Unix ms): a new keep reaches the
   * kernel only after the interval that set it was read and symbolized, while the next window's samples
   * are already being counted under the old one, so the window's share is the two weighted by time.
   */
  keepDuring(pid: number, fromMs: number, toMs: number): number {
    const st = this.processes.get(pid);
    if (!st) return 1;
    if (st.since === undefined || st.since <= fromMs || toMs <= fromMs) return st.keep;
    const at = Math.min(st.since, toMs);
    return (st.before * (at - fromMs) + st.keep * (toMs - at)) / (toMs - fromMs);
  }

  /** Records when `changes` (from update()) reached the kernel. */
  applied(changes: readonly RateChange[], atMs: number): void {
    for (const c of changes) {
      const st = this.processes.get(c.pid);
      if (st && c.keep !== undefined) st.since = atMs;
    }
  }

  /** How much a process's profile moved in the last interval (0..1), for tests and debugging. */
  scoreOf(pid: number): number | undefined {
    return this.processes.get(pid)?.lastScore;
  }

  /** Takes one interval's observations and returns the rates to write. */
  update(observations: readonly IntervalObservation[], intervalS: number): RateChange[] {
    const seen = new Set<number>();
    const est: { pid: number; samples: number; weight: number; state: ProcessState }[] = [];
    for (const o of observations) {
      seen.add(o.pid);
      let st = this.processes.get(o.pid);
      if (!st) this.processes.set(o.pid, (st = { keep: 1, before: 1, since: undefined, average: undefined, unseen: 0, lastScore: 1, heldScore: 0 }));
      st.unseen = 0;
      const shares = normalise(o.leaves);
      st.lastScore = st.average ? Math.max(0, distance(shares, st.average) - noiseDistance(st.average, sum(o.leaves))) : 1;
      // A new process's 1 is "nothing known yet", not a change: it weighs once and is not held.
      if (st.average) st.heldScore = Math.max(st.lastScore, HOLD * st.heldScore);
      const score = st.average ? st.heldScore : st.lastScore;
      st.average = st.average ? blend(st.average, shares) : shares;
      const samples = o.kept / st.keep / intervalS;
      est.push({ pid: o.pid, samples, weight: samples * (BASE_WEIGHT + score), state: st });
    }
    const changes: RateChange[] = [];
    for (const [pid, st] of this.processes) {
      if (seen.has(pid) || ++st.unseen < this.forgetAfter) continue;
      this.processes.delete(pid);
      changes.push({ pid, keep: undefined });
    }
    const totalSamples = est.reduce((n, e) => n + e.samples, 0);
    const totalWeight = est.reduce((n, e) => n + e.weight, 0);
    for (const e of est) {
      const keep =
        totalSamples <= this.options.budgetPerSecond || totalWeight === 0 || e.samples === 0
          ? 1
          : Math.min(1, Math.max(this.minKeep, (this.options.budgetPerSecond * e.weight) / totalWeight / e.samples));
      if (keep !== e.state.keep) {
        changes.push({ pid: e.pid, keep });
        e.state.before = e.state.keep;
        e.state.since = undefined;
      }
      e.state.keep = keep;
    }
    return changes;
  }
}

function sum(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const v of counts.values()) total += v;
  return total;
}

function normalise(counts: ReadonlyMap<string, number>): Map<string, number> {
  const total = sum(counts);
  const out = new Map<string, number>();
  if (total > 0) for (const [k, v] of counts) out.set(k, v / total);
  return out;
}

/** Half the L1 distance between two share vectors: 0 identical, 1 disjoint. */
function distance(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let d = 0;
  for (const [k, v] of a) d += Math.abs(v - (b.get(k) ?? 0));
  for (const [k, v] of b) if (!a.has(k)) d += v;
  return d / 2;
}

/**
 * The half L1 distance expected between `n` samples drawn from `average` and `average` itself: each
 * share's count is binomial, so its share is off by sqrt(2/π) standard deviations on average; the
 * running average carries noise of its own, SMOOTHING / (2 - SMOOTHING) of one interval's variance.
 */
function noiseDistance(average: ReadonlyMap<string, number>, n: number): number {
  if (n <= 0) return 0;
  const varianceScale = 1 + SMOOTHING / (2 - SMOOTHING);
  let d = 0;
  for (const p of average.values()) d += Math.sqrt(((2 / Math.PI) * varianceScale * p * (1 - p)) / n);
  return d / 2;
}

function blend(average: ReadonlyMap<string, number>, now: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of average) out.set(k, v * (1 - SMOOTHING));
  for (const [k, v] of now) out.set(k, (out.get(k) ?? 0) + v * SMOOTHING);
  for (const [k, v] of out) if (v < 1e-4) out.delete(k);
  return out;
}
