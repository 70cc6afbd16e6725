import type { DictionaryBuilder, Labels } from '../model/index.js';

/**
 * The contracts between the agent's stages. The sampler (agent-core) produces RawSamples; the
 * symbolizer and the labeler (agent-symbols) turn them into model profiles. Agreeing here lets both
 * sides be built and tested in parallel, each with a trivial stand-in for the other.
 */

/** One aggregated count from the kernel map: how often this thread was seen on this pair of stacks. */
export interface RawSample {
  /** Process id (the kernel's tgid). */
  readonly pid: number;
  /** Thread id (the kernel's pid). */
  readonly tid: number;
  /** Thread name at sampling time (task comm, ≤ 15 chars). */
  readonly comm: string;
  /** User-space return addresses, leaf first; [] when the sample had no user stack. */
  readonly userAddrs: bigint[];
  /** Kernel addresses, leaf first; [] for samples taken in user mode. */
  readonly kernelAddrs: bigint[];
  /** Number of samples with exactly this key in the interval. */
  readonly count: number;
}

/** Counters a symbolizer keeps since it was created; the agent turns them into its hit-rate metric. */
export interface SymbolizerStats {
  /** Frames asked for. */
  readonly frames: number;
  /** Frames that got a function name (the rest keep binary+offset). */
  readonly symbolized: number;
  /** Free-form extra counters (cache sizes, misses by reason …), exported as gauges by name. */
  readonly [extra: string]: number;
}

export interface Symbolizer {
  /**
   * Called when a pid is first seen in an interval, before symbolize(): a chance to snapshot
   * /proc/PID/maps so a process that exits before its samples are read still symbolizes.
   */
  observe(pid: number): void;
  /**
   * Adds the frames of one sample to `b` and returns their location indices, leaf first
   * (kernel frames first, then user frames — one stack from the innermost frame out).
   * Never drops a frame: one that cannot be named keeps binary+offset.
   */
  symbolize(pid: number, user: bigint[], kernel: bigint[], b: DictionaryBuilder): number[];
  stats(): SymbolizerStats;
}

export interface ProcessLabeler {
  /** Labels of a process (service_name, comm, pid, executable, node, cgroup …), relabeled; [] = drop it. */
  labels(pid: number, comm: string): Labels;
}
