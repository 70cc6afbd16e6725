import { CPU_TYPE, DictionaryBuilder, type Labels, type Profile } from '../model/index.js';
import type { ProcessLabeler, RawSample, Symbolizer } from './types.js';

/**
 * Turns one interval of raw samples into model profiles: one per process, type
 * process_cpu:cpu:nanoseconds:cpu:nanoseconds, value = samples × period (ns of CPU).
 */

export interface IntervalWindow {
  /** Unix ms when the interval started. */
  readonly startMs: number;
  /** Unix ms when it ended (the sampler flipped generations). */
  readonly endMs: number;
}

export interface BuildOptions {
  readonly frequencyHz: number;
  /**
   * One dictionary for every profile of the interval (what OTLP sends: one ProfilesDictionary per
   * request), or one per profile. The agent shares it for both protocols: the pprof encoder writes only
   * the entries a profile's own stacks use, so per-profile uploads carry no other process's symbols.
   */
  readonly shareDictionary: boolean;
}

export interface BuiltProfiles {
  readonly profiles: Profile[];
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
  let droppedSamples = 0;
  for (const [pid, list] of byPid) {
    const labels = labeler.labels(pid, processComm(pid, list));
    if (labels.length === 0) {
      for (const s of list) droppedSamples += s.count;
      continue;
    }
    symbolizer.observe(pid);
    const b = shared ?? new DictionaryBuilder();
    // Threads of one process on the same stack become one row.
    const counts = new Map<number, number>();
    for (const s of list) {
      const stack = b.stack(symbolizer.symbolize(pid, s.userAddrs, s.kernelAddrs, b));
      counts.set(stack, (counts.get(stack) ?? 0) + s.count);
    }
    profiles.push(profileOf(labels, window, periodNs, b, counts));
  }
  return { profiles, droppedSamples };
}

function profileOf(labels: Labels, window: IntervalWindow, periodNs: number, b: DictionaryBuilder, counts: Map<number, number>): Profile {
  const stacks: number[] = [];
  const values: number[] = [];
  for (const [stack, n] of counts) {
    stacks.push(stack);
    values.push(Math.round(n * periodNs));
  }
  return {
    type: CPU_TYPE,
    labels,
    timeMs: window.startMs,
    durationNs: Math.max(0, window.endMs - window.startMs) * 1e6,
    period: periodNs,
    dict: b.dict,
    stacks,
    values,
  };
}

/** The process's own name is its main thread's comm (tid = pid); threads may have renamed themselves. */
function processComm(pid: number, list: readonly RawSample[]): string {
  for (const s of list) if (s.tid === pid) return s.comm;
  return list[0]!.comm;
}
