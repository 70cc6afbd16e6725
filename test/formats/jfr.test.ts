import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import type { DecodeLimits } from '../../src/formats/decode-limits.js';
import { DecodeBudget } from '../../src/formats/decode-limits.js';
import { decodeJfrUpload } from '../../src/formats/jfr.js';
import { InputError } from '../../src/model/errors.js';
import { labelsFrom } from '../../src/model/labels.js';
import type { Profile } from '../../src/model/profile.js';
import { profileTypeId } from '../../src/model/profile-type.js';
import { frameNames } from '../../src/model/symbols.js';
import type { ChunkSpec, FieldSpec } from './jfr-writer.js';
import { writeChunk } from './jfr-writer.js';

const pooled = (name: string, type: string): FieldSpec => ({ name, type, pooled: true });

/** The types async-profiler (inside the Pyroscope Java agent) declares, trimmed to the fields Kiln reads. */
const TYPES: ChunkSpec['types'] = {
  'jdk.types.Symbol': [{ name: 'string', type: 'java.lang.String' }],
  'java.lang.Class': [pooled('name', 'jdk.types.Symbol')],
  'jdk.types.Method': [pooled('type', 'java.lang.Class'), pooled('name', 'jdk.types.Symbol')],
  'jdk.types.StackFrame': [pooled('method', 'jdk.types.Method'), { name: 'lineNumber', type: 'int' }],
  'jdk.types.StackTrace': [{ name: 'truncated', type: 'boolean' }, { name: 'frames', type: 'jdk.types.StackFrame', array: true }],
  'jdk.types.ThreadState': [{ name: 'name', type: 'java.lang.String' }],
  'jdk.ActiveSetting': [{ name: 'startTime', type: 'long' }, { name: 'id', type: 'long' }, { name: 'name', type: 'java.lang.String' }, { name: 'value', type: 'java.lang.String' }],
  'jdk.ExecutionSample': [{ name: 'startTime', type: 'long' }, pooled('stackTrace', 'jdk.types.StackTrace'), pooled('state', 'jdk.types.ThreadState'), { name: 'contextId', type: 'long' }],
  'profiler.WallClockSample': [{ name: 'startTime', type: 'long' }, pooled('stackTrace', 'jdk.types.StackTrace'), pooled('state', 'jdk.types.ThreadState'), { name: 'samples', type: 'int' }, { name: 'contextId', type: 'long' }],
  'jdk.JavaMonitorEnter': [{ name: 'startTime', type: 'long' }, { name: 'duration', type: 'long' }, pooled('stackTrace', 'jdk.types.StackTrace'), { name: 'contextId', type: 'long' }],
  'profiler.LiveObject': [{ name: 'startTime', type: 'long' }, pooled('stackTrace', 'jdk.types.StackTrace')],
};

const SYMBOLS = ['com/shop/Cart', 'checkout', 'java/lang/Thread', 'run', 'com/shop/Cart$$Lambda$669.0x0000000800fd7318', 'apply'];
const frame = (method: number, lineNumber = 0) => ({ method, lineNumber });

function spec(over: Partial<ChunkSpec> = {}): ChunkSpec {
  return {
    types: TYPES,
    pools: {
      'jdk.types.Symbol': new Map(SYMBOLS.map((s, i) => [i + 1, { string: s }])),
      'java.lang.Class': new Map([[1, { name: 1 }], [2, { name: 3 }], [3, { name: 5 }]]),
      'jdk.types.Method': new Map([[1, { type: 1, name: 2 }], [2, { type: 2, name: 4 }], [3, { type: 3, name: 6 }]]),
      // Leaf first: checkout ← run; the lambda ← run.
      'jdk.types.StackTrace': new Map([[1, { truncated: false, frames: [frame(1, 42), frame(2)] }], [2, { truncated: false, frames: [frame(3), frame(2)] }]]),
      'jdk.types.ThreadState': new Map([[1, { name: 'STATE_RUNNABLE' }], [2, { name: 'STATE_SLEEPING' }]]),
    },
    events: [
      { type: 'jdk.ActiveSetting', value: { startTime: 1, id: 1, name: 'event', value: 'wall' } },
      { type: 'jdk.ExecutionSample', value: { startTime: 2, stackTrace: 1, state: 1, contextId: 1 } },
      { type: 'jdk.ExecutionSample', value: { startTime: 3, stackTrace: 1, state: 1, contextId: 1 } },
      { type: 'jdk.ExecutionSample', value: { startTime: 4, stackTrace: 2, state: 2, contextId: 2 } },
      { type: 'profiler.WallClockSample', value: { startTime: 5, stackTrace: 2, state: 2, samples: 3, contextId: 0 } },
      // 2 ticks at 500 ticks/s below: 4 ms.
      { type: 'jdk.JavaMonitorEnter', value: { startTime: 6, duration: 2, stackTrace: 1, contextId: 1 } },
      { type: 'profiler.LiveObject', value: { startTime: 7, stackTrace: 2 } },
    ],
    ticksPerSecond: 500,
    ...over,
  };
}

/** LabelsSnapshot: context 1 = {route=/cart}, context 2 = {route=/pay, http.method=POST}. */
function snapshot(): Uint8Array {
  const w = new BinaryWriter();
  const context = (id: number, pairs: [number, number][]): void => {
    w.tag(1, 2).fork().tag(1, 0).int64(id).tag(2, 2).fork();
    for (const [k, v] of pairs) w.tag(1, 2).fork().tag(1, 0).int64(k).tag(2, 0).int64(v).join();
    w.join().join();
  };
  context(1, [[1, 2]]);
  context(2, [[1, 3], [4, 5]]);
  ['route', '/cart', '/pay', 'http.method', 'POST'].forEach((s, i) => w.tag(2, 2).fork().tag(1, 0).int64(i + 1).tag(2, 2).string(s).join());
  return w.finish();
}

const LIMITS: DecodeLimits = {
  maxSamplesPerProfile: 1000, maxStacksPerRequest: 1000, maxFramesPerRequest: 100_000, maxStackDepth: 100,
  maxLabelsPerSeries: 30, maxLabelNameLength: 100, maxLabelValueLength: 1000,
  // Not what these tests are about: no per-request cap (what leaving them out meant).
  maxSamplesPerRequest: Infinity, maxSymbolsPerRequest: Infinity,
};

function decode(jfr: Uint8Array, limits: DecodeLimits = LIMITS, labels?: Uint8Array): Profile[] {
  return decodeJfrUpload(jfr, labels, { labels: labelsFrom({ service_name: 'shop' }), periodNs: 10_000_000, timeMs: 1000, durationNs: 10e9, budget: new DecodeBudget(limits) }, 1 << 20);
}

/** Folded view of one profile: `root;…;leaf value` lines, sorted. */
function folded(p: Profile): string[] {
  return p.stacks.map((s, i) => `${[...p.dict.stacks[s]!].reverse().map((l) => frameNames(p.dict, l)[0]).join(';')} ${p.values[i]}`).sort();
}

function find(ps: Profile[], id: string, label?: [string, string]): Profile {
  const p = ps.find((x) => profileTypeId(x.type) === id && (!label || x.labels.some((l) => l.name === label[0] && l.value === label[1])));
  if (!p) throw new Error(`no ${id} ${label?.join('=') ?? ''} among ${ps.map((x) => profileTypeId(x.type)).join(', ')}`);
  return p;
}

describe('JFR → profiles, named as Pyroscope names them', () => {
  for (const compressed of [true, false]) {
    it(`async-profiler's events, ${compressed ? 'compressed' : 'fixed-width'} integers: ids, values, frames, context labels`, () => {
      const ps = decode(writeChunk(spec({ compressed })), LIMITS, snapshot());
      // CPU: the two runnable execution samples (context 1), worth 10 ms each; the sleeping one is not CPU.
      const cpu = find(ps, 'process_cpu:cpu:nanoseconds:cpu:nanoseconds');
      expect(folded(cpu)).toEqual(['java/lang/Thread.run;com/shop/Cart.checkout 20000000']);
      expect(cpu.labels).toEqual(labelsFrom({ service_name: 'shop', jfr_event: 'wall', route: '/cart' }));
      expect(cpu.period).toBe(10_000_000);
      expect(ps.filter((p) => p.type.name === 'process_cpu')).toHaveLength(1);
      // Wall (event=wall): every execution sample plus the wall-clock one's 3 samples, split by context; the lambda's number folded away.
      expect(folded(find(ps, 'wall:wall:nanoseconds:wall:nanoseconds', ['route', '/cart']))).toEqual(['java/lang/Thread.run;com/shop/Cart.checkout 20000000']);
      const pay = find(ps, 'wall:wall:nanoseconds:wall:nanoseconds', ['route', '/pay']);
      expect(folded(pay)).toEqual(['java/lang/Thread.run;com/shop/Cart$$Lambda_.apply 10000000']);
      expect(pay.labels).toEqual(labelsFrom({ service_name: 'shop', jfr_event: 'wall', route: '/pay', http_method: 'POST' }));
      const noContext = ps.find((p) => p.type.name === 'wall' && !p.labels.some((l) => l.name === 'route'))!;
      expect(folded(noContext)).toEqual(['java/lang/Thread.run;com/shop/Cart$$Lambda_.apply 30000000']);
      // Lock: one contention, its duration converted from ticks to nanoseconds.
      expect(folded(find(ps, 'mutex:contentions:count:mutex:count'))).toEqual(['java/lang/Thread.run;com/shop/Cart.checkout 1']);
      expect(folded(find(ps, 'mutex:delay:nanoseconds:mutex:count'))).toEqual(['java/lang/Thread.run;com/shop/Cart.checkout 4000000']);
      expect(folded(find(ps, 'memory:live:count:objects:count'))).toEqual(['java/lang/Thread.run;com/shop/Cart$$Lambda_.apply 1']);
      // Line numbers are kept on the location.
      const leaf = cpu.dict.locations[cpu.dict.stacks[cpu.stacks[0]!]![0]!]!;
      expect(leaf.lines[0]!.line).toBe(42);
    });
  }

  it('several chunks: each with its own pools, summed', () => {
    const one = writeChunk(spec());
    const two = new Uint8Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    expect(folded(find(decode(two), 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'))).toEqual(['java/lang/Thread.run;com/shop/Cart.checkout 40000000']);
  });
});

function expectInputError(fn: () => unknown, status: number, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'no error thrown').toBeInstanceOf(InputError);
  expect((caught as InputError).status).toBe(status);
  expect((caught as InputError).message).toMatch(message);
}

describe('malformed JFR → 400 naming what is wrong', () => {
  const good = writeChunk(spec());

  it('every truncation of a file is refused as malformed, never a crash or a partial read', () => {
    for (let n = 1; n < good.length; n++) expectInputError(() => decode(good.subarray(0, n)), 400, /^malformed JFR: /);
  });

  it('bad magic, version, offsets, event sizes, string encodings, types', () => {
    const patched = (at: number, bytes: number[]): Uint8Array => {
      const b = Uint8Array.from(good);
      b.set(bytes, at);
      return b;
    };
    expectInputError(() => decode(patched(0, [0x50, 0x4b])), 400, /not a JFR chunk/);
    expectInputError(() => decode(patched(4, [0, 1])), 400, /JFR version 1 is not supported/);
    expectInputError(() => decode(patched(24, [0, 0, 0, 0, 0x7f, 0, 0, 0])), 400, /metadata offset \d+ is outside the chunk/);
    // The first event (the checkpoint) claims 100 000 bytes.
    expectInputError(() => decode(patched(68, [0xa0, 0x8d, 0x06])), 400, /event size 100000 runs past the chunk's end/);
    expectInputError(() => decode(Uint8Array.from([...good, 1, 2, 3])), 400, /chunk header needs 68 bytes/);
    expectInputError(() => decode(new Uint8Array(0)), 400, /empty file/);
    // A type that holds itself inline nests without end.
    type Nest = { name: string; inner?: Nest };
    const nest = (n: number): Nest => (n === 0 ? { name: 'x' } : { name: 'x', inner: nest(n - 1) });
    const selfNesting = writeChunk(spec({
      types: { ...TYPES, 'jdk.types.ThreadState': [{ name: 'name', type: 'java.lang.String' }, { name: 'inner', type: 'jdk.types.ThreadState' }] },
      pools: { ...spec().pools, 'jdk.types.ThreadState': new Map([[1, nest(20) as never]]) },
    }));
    expectInputError(() => decode(selfNesting), 400, /nest more than 16 deep/);
    // Types of empty types take no bytes: 100 constants of 60 × 60 empty objects would be 360 000 objects from a few bytes.
    const empties = (n: number, type: string): FieldSpec[] => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type }));
    const expanding = writeChunk(spec({
      types: { ...TYPES, Empty: [], Wide: empties(60, 'Empty'), 'jdk.types.ThreadState': [{ name: 'name', type: 'java.lang.String' }, ...empties(60, 'Wide')] },
      pools: { ...spec().pools, 'jdk.types.ThreadState': new Map(Array.from({ length: 100 }, (_, i) => [i + 1, { name: 'x' }])) },
    }));
    expectInputError(() => decode(expanding), 400, /expand into more than \d+ values/);
  });

  it('a labels part that is not a LabelsSnapshot is 400 naming the part', () => {
    expectInputError(() => decode(good, LIMITS, Uint8Array.from([0x0a, 0x05, 0x01])), 400, /"labels" part is not a Pyroscope JFR LabelsSnapshot/);
  });
});

describe('decode-time limits → 413 naming the limit', () => {
  const deep = (depth: number): ChunkSpec =>
    spec({
      pools: { ...spec().pools, 'jdk.types.StackTrace': new Map([[1, { truncated: false, frames: Array.from({ length: depth }, () => frame(1)) }]]) },
      events: [{ type: 'jdk.ExecutionSample', value: { startTime: 1, stackTrace: 1, state: 1, contextId: 0 } }],
    });

  it('max_stack_depth, max_frames_per_request, max_stacks_per_request, max_samples_per_profile', () => {
    expectInputError(() => decode(writeChunk(deep(51)), { ...LIMITS, maxStackDepth: 50 }), 413, /a stack is 51 frames deep, more than 50: over the limit max_stack_depth/);
    expect(decode(writeChunk(deep(50)), { ...LIMITS, maxStackDepth: 50 })).toHaveLength(1);
    expectInputError(() => decode(writeChunk(deep(60)), { ...LIMITS, maxFramesPerRequest: 59 }), 413, /max_frames_per_request/);
    expectInputError(() => decode(writeChunk(spec()), { ...LIMITS, maxStacksPerRequest: 1 }), 413, /more than 1 stack traces: over the limit max_stacks_per_request/);

    const many = spec({
      pools: { ...spec().pools, 'jdk.types.StackTrace': new Map(Array.from({ length: 20 }, (_, i) => [i + 1, { truncated: false, frames: [frame(1, i + 1)] }])) },
      events: Array.from({ length: 20 }, (_, i) => ({ type: 'jdk.ExecutionSample', value: { startTime: i, stackTrace: i + 1, state: 1, contextId: 0 } })),
    });
    expectInputError(() => decode(writeChunk(many), { ...LIMITS, maxSamplesPerProfile: 10 }), 413, /more than 10 samples: over the limit max_samples_per_profile/);
  });
});
