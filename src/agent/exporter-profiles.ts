import { CPU_TYPE, DictionaryBuilder, type Labels, type Profile, type ProfileType } from '../model/index.js';
import type { ProcessLabeler, RawSample, SampleKind, Symbolizer } from './types.js';

/**
 * Turns one interval of raw samples into model profiles: one per process and kind —
 * process_cpu:cpu:nanoseconds:cpu:nanoseconds (value = samples × period, ns of CPU) and, with
 * --off-cpu, off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds (value = ns blocked on that stack).
 */

/** Time blocked, per stack (the kernel's sched_switch, see profile.bpf.c). */
export const OFF_CPU_TYPE: ProfileType = {
  name: 'off_cpu',
  sampleType: 'off_cpu',
  sampleUnit: 'nanoseconds',
  periodType: 'off_cpu',
  periodUnit: 'nanoseconds',
};

export interface IntervalWindow {
  /** Unix ms when the interval started. */
  readonly startMs: number;
  /** Unix ms when it ended (the sampler flipped generations). */
  readonly endMs: number;
}

export interface BuildOptions {
  readonly frequencyHz: number;
  /** Off-CPU sampling period (blocks shorter are sampled, see profile.bpf.c): the off-CPU profiles' period. */
  readonly offCpuPeriodNs?: number;
  /**
   * Adaptive sampling: the share (0..1] of a process's CPU samples the kernel kept this interval; its
   * counts are divided by it so values stay in true CPU time. Default: all kept.
   */
  readonly keptShare?: (pid: number) => number;
  /**
   * One dictionary for every profile of the interval (what OTLP sends: one ProfilesDictionary per
   * request), or one per profile. The agent shares it for both protocols: the pprof encoder writes only
   * the entries a profile's own stacks use, so per-profile uploads carry no other process's symbols.
   */
  readonly shareDictionary: boolean;
}

export interface BuiltProfiles {
  readonly profiles: Profile[];
  /** Processes that got a profile (their labels were not dropped). */
  readonly keptPids: number[];
  /** Samples of processes the labeler dropped (relabel rules), not exported. */
  readonly droppedSamples: number;
}

export function buildProfiles(
  samples: readonly RawSample[],
  window: IntervalWindow,
  symbolizer: Symbolizer,
  labeler: ProcessLabeler,
  opts: BuildOptions,
): BuiltProfiles {
  const periodNs = 1e9 / opts.frequencyHz;
  const byPid = new Map<number, RawSample[]>();
  for (const s of samples) {
    let list = byPid.get(s.pid);
    if (!list) byPid.set(s.pid, (list = []));
    list.push(s);
  }

  const shared = opts.shareDictionary ? new DictionaryBuilder() : undefined;
  const profiles: Profile[] = [];
  const keptPids: number[] = [];
  let droppedSamples = 0;
  for (const [pid, list] of byPid) {
    // Every row of a process carries the process's own name (its main thread's comm, read in BPF).
    const labels = labeler.labels(pid, list[0]!.comm);
    if (labels.length === 0) {
      for (const s of list) if (s.kind === 'cpu') droppedSamples += s.count;
      continue;
    }
    symbolizer.observe(pid);
    keptPids.push(pid);
    const b = shared ?? new DictionaryBuilder();
    const kept = opts.keptShare?.(pid) ?? 1;
    const byKind: Record<SampleKind, Map<number, number>> = { cpu: new Map(), off_cpu: new Map() };
    for (const s of list) {
      const stack = b.stack(symbolizer.symbolize(pid, s.userAddrs, s.kernelAddrs, b));
      const counts = byKind[s.kind];
      counts.set(stack, (counts.get(stack) ?? 0) + s.count);
    }
    if (byKind.cpu.size > 0) profiles.push(profileOf(CPU_TYPE, labels, window, periodNs / kept, periodNs / kept, b, byKind.cpu));
    if (byKind.off_cpu.size > 0) profiles.push(profileOf(OFF_CPU_TYPE, labels, window, opts.offCpuPeriodNs ?? 0, 1, b, byKind.off_cpu));
  }
  return { profiles, keptPids, droppedSamples };
}

/** `scale`: nanoseconds per counted unit (a CPU sample's period; 1 for off-CPU, counted in ns already). */
function profileOf(type: ProfileType, labels: Labels, window: IntervalWindow, period: number, scale: number, b: DictionaryBuilder, counts: Map<number, number>): Profile {
  const stacks: number[] = [];
  const values: number[] = [];
  for (const [stack, n] of counts) {
    stacks.push(stack);
    values.push(Math.round(n * scale));
  }
  return {
    type,
    labels,
    timeMs: window.startMs,
    durationNs: Math.max(0, window.endMs - window.startMs) * 1e6,
    period,
    dict: b.dict,
    stacks,
    values,
  };
}
