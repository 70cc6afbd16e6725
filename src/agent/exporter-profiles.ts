import { CPU_TYPE, DictionaryBuilder, type Labels, type Profile, type ProfileType } from '../model/index.js';
import { CompactDictionaryBuilder, copyStacks } from './exporter-dictionary.js';
import type { ProcessLabeler, RawSample, Symbolizer } from './types.js';

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
  /**
   * A dictionary kept from one interval to the next (the agent's): the interval's profiles are built
   * over it, so the symbolizer resolves a frame it has seen before from its memo. Implies sharing.
   */
  readonly keptDictionary?: KeptDictionary;
}

/**
 * The agent's dictionary, kept across intervals: a long-lived process's frames, functions and stacks
 * are added once, not every 10 s, and the symbolizer's memo of resolved frames lives as long as it
 * (frame-memo.ts). Each request still carries only what its profiles use: the OTLP encoder and the
 * pprof encoder both write the entries reached from the profiles' stacks, and the rows push names
 * stacks by content id, so an entry's index here is never seen by the server.
 *
 * Bounded by eviction: past `maxEntries` locations plus stacks, the next interval starts from a copy
 * holding only the stacks used most recently — those used in the last `keepIntervals` intervals, up to
 * half the bound — and what they use; the frames of processes long gone go. The copy is a new builder,
 * so the symbolizer resolves the kept stacks' frames once more (its memo is per builder), as it did when
 * the dictionary started over empty; content ids do not change, so the rows push re-sends nothing.
 */
export class KeptDictionary {
  private builder: DictionaryBuilder = new CompactDictionaryBuilder();
  /** The interval in which each stack was last used (index: the stack's), 0 for never. */
  private lastUsed = new Int32Array(1024);
  private interval = 0;
  private resets = 0;
  private evictedStacks = 0;

  constructor(
    private readonly maxEntries = 40_000,
    private readonly keepIntervals = 30,
  ) {}

  /** The dictionary the next interval is built over: the last one, or past the bound its recent part. */
  forInterval(): DictionaryBuilder {
    this.interval++;
    const d = this.builder.dict;
    if (d.locations.length + d.stacks.length > this.maxEntries) this.evict();
    return this.builder;
  }

  /** The interval's profiles use this stack (of the builder `forInterval` returned). */
  used(stack: number): void {
    if (stack >= this.lastUsed.length) {
      const grown = new Int32Array(Math.max(stack + 1, this.lastUsed.length * 2));
      grown.set(this.lastUsed);
      this.lastUsed = grown;
    }
    this.lastUsed[stack] = this.interval;
  }

  /** Named to sit beside the symbolizer's stats on the agent's /metrics (kiln_agent_symbolizer_stat). */
  stats(): { dictionaryLocations: number; dictionaryStacks: number; dictionaryResets: number; dictionaryEvictedStacks: number } {
    const d = this.builder.dict;
    return { dictionaryLocations: d.locations.length, dictionaryStacks: d.stacks.length, dictionaryResets: this.resets, dictionaryEvictedStacks: this.evictedStacks };
  }

  private evict(): void {
    const d = this.builder.dict;
    const oldest = this.interval - this.keepIntervals;
    const recent: number[] = [];
    for (let s = 0; s < d.stacks.length; s++) if (s < this.lastUsed.length && this.lastUsed[s]! > oldest) recent.push(s);
    // Most recently used first; within the budget, a stack's locations count once however many share them.
    recent.sort((a, b) => this.lastUsed[b]! - this.lastUsed[a]! || a - b);
    const budget = this.maxEntries >> 1;
    const { builder, stackIndex } = copyStacks(d, recent, budget);
    const lastUsed = new Int32Array(Math.max(1024, builder.dict.stacks.length * 2));
    for (let s = 0; s < stackIndex.length; s++) if (stackIndex[s]! >= 0) lastUsed[stackIndex[s]!] = this.lastUsed[s]!;
    this.evictedStacks += d.stacks.length - builder.dict.stacks.length;
    this.builder = builder;
    this.lastUsed = lastUsed;
    this.resets++;
  }
}

export interface BuiltProfiles {
  readonly profiles: Profile[];
  /** Processes that got a profile (their labels were not dropped). */
  readonly keptPids: number[];
  /** Each process's CPU profile, for adaptive sampling's change score. */
  readonly cpuProfiles: Map<number, Profile>;
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

  const keptDictionary = opts.keptDictionary;
  const shared = keptDictionary?.forInterval() ?? (opts.shareDictionary ? new DictionaryBuilder() : undefined);
  const profiles: Profile[] = [];
  const keptPids: number[] = [];
  const cpuProfiles = new Map<number, Profile>();
  let droppedSamples = 0;
  for (const [pid, list] of byPid) {
    // Every row carries the process's own name (its main thread's comm, read in BPF); a process that
    // renamed itself during the interval is named as most of its samples name it.
    const labels = labeler.labels(pid, mainComm(list));
    if (labels.length === 0) {
      for (const s of list) if (s.kind === 'cpu') droppedSamples += s.count;
      continue;
    }
    symbolizer.observe(pid);
    keptPids.push(pid);
    const b = shared ?? new DictionaryBuilder();
    const keptShare = opts.keptShare?.(pid) ?? 1;
    // Counts by stack, per kind (off-CPU only with --off-cpu: its map is made when first needed).
    let cpu: Map<number, number> | undefined;
    let offCpu: Map<number, number> | undefined;
    for (const s of list) {
      const stack = symbolizer.stack ? symbolizer.stack(s, b) : b.stack(symbolizer.symbolize(pid, s.userAddrs, s.kernelAddrs, b));
      const counts = s.kind === 'cpu' ? (cpu ??= new Map()) : (offCpu ??= new Map());
      const before = counts.get(stack);
      if (before === undefined) keptDictionary?.used(stack);
      counts.set(stack, (before ?? 0) + s.count);
    }
    if (cpu) {
      const p = profileOf(CPU_TYPE, labels, window, periodNs / keptShare, periodNs / keptShare, b, cpu);
      profiles.push(p);
      cpuProfiles.set(pid, p);
    }
    if (offCpu) profiles.push(profileOf(OFF_CPU_TYPE, labels, window, opts.offCpuPeriodNs ?? 0, 1, b, offCpu));
  }
  return { profiles, keptPids, cpuProfiles, droppedSamples };
}

function mainComm(list: readonly RawSample[]): string {
  if (list.every((s) => s.comm === list[0]!.comm)) return list[0]!.comm;
  const by = new Map<string, number>();
  for (const s of list) by.set(s.comm, (by.get(s.comm) ?? 0) + (s.kind === 'cpu' ? s.count : 1));
  return [...by].sort((a, b) => b[1] - a[1])[0]![0];
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

/** Self samples by leaf function (the frame a sample was taken in), for adaptive sampling's change score. */
export function leafCounts(p: Profile): Map<string, number> {
  const out = new Map<string, number>();
  p.stacks.forEach((stack, i) => {
    const leaf = p.dict.stacks[stack]?.[0];
    const loc = leaf === undefined ? undefined : p.dict.locations[leaf];
    const fn = loc?.lines[0] ? p.dict.functions[loc.lines[0].function]?.name : undefined;
    const key = fn ?? `@${loc?.address ?? '?'}`;
    out.set(key, (out.get(key) ?? 0) + p.values[i]! / (p.period || 1));
  });
  return out;
}
