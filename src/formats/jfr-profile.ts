import type { Labels } from '../model/labels.js';
import { SERVICE_NAME, labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import { DictionaryBuilder } from '../model/symbols.js';
import type { DecodeBudget } from './decode-limits.js';
import type { JfrChunk, JfrObject, JfrValue } from './jfr-chunk.js';
import { readJfrChunks } from './jfr-chunk.js';
import type { JfrLabelsSnapshot } from './jfr-labels.js';

/**
 * JFR events → Kiln profiles, named as Pyroscope names them (its JFR-to-pprof conversion in
 * grafana/jfr-parser): one profile type per event kind and value, frames `class.method` with the
 * class name as the JVM writes it (`java/lang/Thread.run`), CPU and wall samples worth 1e9/sampleRate
 * ns each, events split by the labels of the Java agent's profiling context.
 */
export interface JfrDecodeOptions {
  /** Series labels of every profile (service_name and the `name` parameter's labels). */
  readonly labels: Labels;
  /** The Java agent's per-context labels (the multipart `labels` part). */
  readonly contexts?: JfrLabelsSnapshot;
  /** 1e9 / sampleRate: what one CPU or wall-clock sample is worth, in nanoseconds. */
  readonly periodNs: number;
  /** The upload's window; the first chunk's own start and the chunks' durations when absent. */
  readonly timeMs?: number;
  readonly durationNs?: number;
  readonly budget?: DecodeBudget;
}

interface EventKind {
  readonly name: string;
  readonly sampleTypes: readonly (readonly [string, string])[];
  readonly period: readonly [string, string];
  /** CPU and wall samples count time: each is worth the sampling period. */
  readonly timed?: boolean;
}

const CPU: EventKind = { name: 'process_cpu', sampleTypes: [['cpu', 'nanoseconds']], period: ['cpu', 'nanoseconds'], timed: true };
const WALL: EventKind = { name: 'wall', sampleTypes: [['wall', 'nanoseconds']], period: ['wall', 'nanoseconds'], timed: true };
const allocation = (what: string): EventKind => ({ name: 'memory', sampleTypes: [[`${what}_objects`, 'count'], [`${what}_bytes`, 'bytes']], period: ['space', 'bytes'] });
const IN_TLAB = allocation('alloc_in_new_tlab');
const OUTSIDE_TLAB = allocation('alloc_outside_tlab');
const ALLOC_SAMPLE = allocation('alloc_sample');
const contention = (name: string): EventKind => ({ name, sampleTypes: [['contentions', 'count'], ['delay', 'nanoseconds']], period: [name, 'count'] });
const MONITOR = contention('mutex');
const PARK = contention('block');
const LIVE: EventKind = { name: 'memory', sampleTypes: [['live', 'count']], period: ['objects', 'count'] };
const MALLOC: EventKind = { name: 'memory', sampleTypes: [['malloc_objects', 'count'], ['malloc_bytes', 'bytes']], period: ['', ''] };

const EVENT_TYPES = new Set([
  'jdk.ExecutionSample', 'profiler.WallClockSample', 'jdk.ObjectAllocationInNewTLAB', 'jdk.ObjectAllocationOutsideTLAB',
  'jdk.ObjectAllocationSample', 'jdk.JavaMonitorEnter', 'jdk.ThreadPark', 'profiler.LiveObject', 'profiler.Malloc', 'jdk.ActiveSetting',
]);

/** Samples of one kind and one label set: stack index → one value per sample type. */
interface Accumulator {
  readonly kind: EventKind;
  readonly labels: Labels;
  readonly byStack: Map<number, number[]>;
}

export function decodeJfr(data: Uint8Array, opts: JfrDecodeOptions): Profile[] {
  const dict = new DictionaryBuilder();
  const accumulators = new Map<string, Accumulator>();
  const labelCache = new Map<string, { key: string; labels: Labels }>();
  // async-profiler's `event` setting (cpu, itimer, wall…): with wall, its execution samples are wall-clock ones.
  let profilerEvent = '';
  let firstStartMs: number | undefined;
  let chunksNs = 0;

  const labelsFor = (contextId: JfrValue | undefined): { key: string; labels: Labels } => {
    const ctx = typeof contextId === 'number' && contextId !== 0 ? opts.contexts?.contexts.get(contextId) : undefined;
    const cacheKey = `${profilerEvent}\0${ctx ? contextId : 0}`;
    let hit = labelCache.get(cacheKey);
    if (!hit) {
      const pairs: [string, string][] = opts.labels.map((l) => [l.name, l.value]);
      if (profilerEvent) pairs.push(['jfr_event', profilerEvent]);
      // Dots become underscores, as for the `name` parameter's labels; the service stays the upload's.
      for (const [k, v] of ctx ?? []) if (k !== SERVICE_NAME) pairs.push([k.replace(/\./g, '_'), v]);
      const labels = labelsFrom(pairs);
      hit = { key: JSON.stringify(labels), labels };
      labelCache.set(cacheKey, hit);
    }
    return hit;
  };

  for (const chunk of readJfrChunks(data, opts.budget?.limits)) {
    firstStartMs ??= Math.floor(chunk.header.startNanos / 1e6);
    chunksNs += chunk.header.durationNanos;
    const stacks = new StackResolver(chunk, dict, opts.budget);
    const ticksToNs = 1e9 / (chunk.header.ticksPerSecond || 1e9);

    const add = (kind: EventKind, e: JfrObject, values: readonly number[]): void => {
      const stack = stacks.resolve(e['stackTrace']);
      if (stack < 0) return;
      const { key, labels } = labelsFor(e['contextId']);
      const accKey = `${kind.name}|${kind.sampleTypes[0]![0]}|${key}`;
      let acc = accumulators.get(accKey);
      if (!acc) {
        acc = { kind, labels, byStack: new Map() };
        accumulators.set(accKey, acc);
      }
      let sums = acc.byStack.get(stack);
      if (!sums) {
        opts.budget?.countSample(acc.byStack.size, dict.dict.stacks[stack]!.length);
        sums = new Array<number>(values.length).fill(0);
        acc.byStack.set(stack, sums);
      }
      const scale = kind.timed ? opts.periodNs : 1;
      for (let i = 0; i < values.length; i++) sums[i]! += values[i]! * scale;
    };

    for (const { type, value: e } of chunk.events(EVENT_TYPES)) {
      switch (type.name) {
        case 'jdk.ActiveSetting':
          if (e['name'] === 'event' && typeof e['value'] === 'string') profilerEvent = e['value'];
          break;
        case 'jdk.ExecutionSample': {
          const state = threadState(chunk, e['state']);
          if (state !== undefined && state !== 'STATE_SLEEPING') add(CPU, e, [1]);
          if (profilerEvent === 'wall') add(WALL, e, [1]);
          break;
        }
        case 'profiler.WallClockSample': {
          const samples = num(e['samples']) || 1;
          if (profilerEvent === 'wall' && threadState(chunk, e['state']) === 'STATE_RUNNABLE') add(CPU, e, [samples]);
          add(WALL, e, [samples]);
          break;
        }
        case 'jdk.ObjectAllocationInNewTLAB':
          add(IN_TLAB, e, [1, num(e['tlabSize'])]);
          break;
        case 'jdk.ObjectAllocationOutsideTLAB':
          add(OUTSIDE_TLAB, e, [1, num(e['allocationSize'])]);
          break;
        case 'jdk.ObjectAllocationSample':
          add(ALLOC_SAMPLE, e, [1, num(e['weight'])]);
          break;
        case 'jdk.JavaMonitorEnter':
          add(MONITOR, e, [1, Math.round(num(e['duration']) * ticksToNs)]);
          break;
        case 'jdk.ThreadPark':
          add(PARK, e, [1, Math.round(num(e['duration']) * ticksToNs)]);
          break;
        case 'profiler.LiveObject':
          add(LIVE, e, [1]);
          break;
        case 'profiler.Malloc':
          add(MALLOC, e, [1, num(e['size'])]);
          break;
      }
    }
  }

  const timeMs = opts.timeMs ?? firstStartMs ?? Date.now();
  const durationNs = opts.durationNs ?? chunksNs;
  const out: Profile[] = [];
  for (const acc of accumulators.values()) {
    acc.kind.sampleTypes.forEach(([sampleType, sampleUnit], i) => {
      const type: ProfileType = { name: acc.kind.name, sampleType, sampleUnit, periodType: acc.kind.period[0], periodUnit: acc.kind.period[1] };
      const stacksOut: number[] = [];
      const values: number[] = [];
      for (const [stack, sums] of acc.byStack) {
        if (sums[i]! <= 0) continue;
        stacksOut.push(stack);
        values.push(sums[i]!);
      }
      if (values.length === 0) return;
      out.push({ type, labels: acc.labels, timeMs, durationNs, period: acc.kind.timed ? opts.periodNs : 0, dict: dict.dict, stacks: stacksOut, values });
    });
  }
  return out;
}

function num(v: JfrValue | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function threadState(chunk: JfrChunk, ref: JfrValue | undefined): string | undefined {
  const state = chunk.constant('jdk.types.ThreadState', ref ?? null);
  return isObject(state) && typeof state['name'] === 'string' ? state['name'] : undefined;
}

function isObject(v: JfrValue | undefined): v is JfrObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// JVM-generated classes get a new number every run (or every class loader); Pyroscope folds the number
// away so the same lambda is one frame across restarts: `Foo$$Lambda$669.0x0000000800fd7318` → `Foo$$Lambda_`.
const LAMBDA_CLASS = /^(.+\$\$Lambda)(\$?\d*[./](0x)?[\da-f]+|\d+)$/;
const METHOD_ACCESSOR = /^(jdk\/internal\/reflect\/GeneratedMethodAccessor)\d+$/;

function stableClassName(name: string): string {
  return name.replace(LAMBDA_CLASS, '$1_').replace(METHOD_ACCESSOR, '$1_');
}

/** A chunk's stack-trace pool → the dictionary's stacks, each resolved once (pool ids are per chunk). */
class StackResolver {
  private readonly stacks = new Map<number, number>();
  private readonly functions = new Map<number, number>();

  constructor(
    private readonly chunk: JfrChunk,
    private readonly dict: DictionaryBuilder,
    private readonly budget?: DecodeBudget,
  ) {}

  /** The dictionary stack of a stack-trace id, -1 when it has none (no trace or no frame). */
  resolve(ref: JfrValue | undefined): number {
    if (typeof ref !== 'number') return -1;
    const known = this.stacks.get(ref);
    if (known !== undefined) return known;
    const trace = this.chunk.constant('jdk.types.StackTrace', ref);
    const frames = isObject(trace) && Array.isArray(trace['frames']) ? (trace['frames'] as readonly JfrValue[]) : [];
    const locations: number[] = [];
    // JFR lists frames top first, the leaf: Kiln's order too.
    for (const frame of frames) {
      if (!isObject(frame)) continue;
      const fn = this.functionOf(frame['method']);
      const line = num(frame['lineNumber']);
      locations.push(this.dict.location(-1, 0n, [{ function: fn, line: line > 0 ? line : 0 }]));
    }
    let stack = -1;
    if (locations.length > 0) {
      const before = this.dict.dict.stacks.length;
      stack = this.dict.stack(locations);
      if (this.dict.dict.stacks.length !== before) this.budget?.tableStacks(1);
    }
    this.stacks.set(ref, stack);
    return stack;
  }

  private functionOf(methodRef: JfrValue | undefined): number {
    const key = typeof methodRef === 'number' ? methodRef : -1;
    let fn = this.functions.get(key);
    if (fn === undefined) {
      const method = this.chunk.constant('jdk.types.Method', methodRef ?? null);
      const cls = isObject(method) ? this.chunk.constant('java.lang.Class', method['type'] ?? null) : undefined;
      const className = isObject(cls) ? this.symbol(cls['name']) : '';
      const methodName = isObject(method) ? this.symbol(method['name']) : 'unknown';
      fn = this.dict.function(`${stableClassName(className)}.${methodName}`);
      this.functions.set(key, fn);
    }
    return fn;
  }

  private symbol(ref: JfrValue | undefined): string {
    const s = this.chunk.constant('jdk.types.Symbol', ref ?? null);
    return isObject(s) && typeof s['string'] === 'string' ? s['string'] : '';
  }
}
