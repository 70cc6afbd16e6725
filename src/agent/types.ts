import type { DictionaryBuilder, Labels } from '../model/index.js';

/**
 * The contracts between the agent's stages. The sampler (agent-core) produces RawSamples; the
 * symbolizer and the labeler (agent-symbols) turn them into model profiles. Agreeing here lets both
 * sides be built and tested in parallel, each with a trivial stand-in for the other.
 */

/** cpu: on-CPU samples; off_cpu: time blocked (sched_switch), with --off-cpu. */
export type SampleKind = 'cpu' | 'off_cpu';

/** One aggregated count from the kernel map: how much this process was seen on this pair of stacks. */
export interface RawSample {
  /** Process id (the kernel's tgid). */
  readonly pid: number;
  readonly kind: SampleKind;
  /** The process's name (its main thread's comm, ≤ 15 chars) — never the name of the thread sampled. */
  readonly comm: string;
  /**
   * User-space frames, leaf first; [] when the sample had no user stack. Return addresses, except
   * CPython frames, which have bit 63 set (code object and instruction, see python/frames.ts).
   */
  readonly userAddrs: bigint[];
  /**
   * The content hash the BPF program stored the user stack under (0n or absent: none known). The same
   * process's same stack has the same hash in every interval, so its dictionary stack is found in one
   * lookup instead of one per frame (symbolize/frame-memo.ts).
   */
  readonly userStack?: bigint;
  /**
   * userAddrs.length and userAddrs[0], known without the addresses as numbers (the sampler's samples
   * decode them when first asked for; a known stack is found by hash, depth and leaf alone).
   */
  readonly userDepth?: number;
  readonly userLeaf?: bigint;
  /** kernelAddrs.length, likewise. */
  readonly kernelDepth?: number;
  /** Kernel addresses, leaf first; [] for samples taken in user mode. */
  readonly kernelAddrs: bigint[];
  /** cpu: number of samples with exactly this key in the interval; off_cpu: nanoseconds blocked. */
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
  /**
   * The dictionary stack of one sample: symbolize() then `b.stack()`, or a stack of this process already
   * in `b`, found by the sample's `userStack` hash. Optional: without it the caller does the former.
   */
  stack?(sample: RawSample, b: DictionaryBuilder): number;
  stats(): SymbolizerStats;
}

export interface ProcessLabeler {
  /** Labels of a process (service_name, comm, pid, executable, node, cgroup …), relabeled; [] = drop it. */
  labels(pid: number, comm: string): Labels;
}
