import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  decodeOtlp,
  decodeOtlpJson,
  decodeOtlpProtobuf,
  encodeOtlp,
  encodeOtlpJson,
  encodeOtlpProtobuf,
  parseOtlpJson,
  parseOtlpProtobuf,
  serializeOtlpJson,
} from '../../src/formats/otlp.js';
import '../../src/formats/otlp-format.js';
import { decodeProfiles } from '../../src/formats/registry.js';
import { ExportProfilesServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { LinkSchema } from '../../src/gen/opentelemetry/proto/profiles/v1development/profiles_pb.js';
import { CPU_TYPE, DictionaryBuilder, InputError, getLabel, labelsFrom, profileTypeId } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { validateProfile } from '../../src/model/validate.js';
import { binariesOf, captureFiles, foldedOf, independentTotals, labelValues, totalByType } from './otlp-support.js';

const NOW = 1_700_000_000_000;
const CPU = profileTypeId(CPU_TYPE);
const OFF_CPU = 'off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds';

describe('OTLP capture of the OpenTelemetry eBPF profiler', () => {
  const { bin, json } = captureFiles();
  const fromBin = decodeOtlpProtobuf(bin, { nowMs: NOW });

  it('decodes the protobuf and the JSON sibling to the same profiles', () => {
    const fromJson = decodeOtlpJson(json, { nowMs: NOW });
    expect(fromJson.length).toBe(fromBin.length);
    expect(fromJson).toEqual(fromBin);
  });

  it('gives valid profiles the store would accept', () => {
    expect(fromBin.length).toBeGreaterThan(77);
    for (const p of fromBin) validateProfile(p);
  });

  it('totals equal an independent sum over the raw message, CPU counts scaled by the period', () => {
    const expected = independentTotals(json);
    const totals = totalByType(fromBin);
    expect([...totals.keys()].sort()).toEqual([OFF_CPU, CPU].sort());
    expect(expected.cpuNs).toBeGreaterThan(0);
    expect(totals.get(CPU)).toBe(expected.cpuNs);
    expect(totals.get(OFF_CPU)).toBe(expected.offCpuNs);
  });

  it('keeps every process and names services the way Pyroscope does for OTLP', () => {
    const pids = labelValues(fromBin, 'process_pid');
    expect(pids).toEqual(independentTotals(json).pids);
    const services = labelValues(fromBin, 'service_name');
    expect(services).toContain('unknown_service:containerd');
    expect(services).toContain('unknown_service:kwin_wayland');
    expect(services).toContain('unknown_service'); // processes with only process.pid
    const containerd = fromBin.find((p) => getLabel(p.labels, 'process_executable_name') === 'containerd');
    expect(getLabel(containerd!.labels, 'process_executable_path')).toBe('/usr/bin/containerd');
  });

  it('splits series by thread but not by CPU', () => {
    expect(labelValues(fromBin, 'thread_id').size).toBeGreaterThan(50);
    expect(labelValues(fromBin, 'thread_name')).toContain('containerd');
    expect(labelValues(fromBin, 'cpu_logical_number').size).toBe(0);
    for (const p of fromBin) expect(getLabel(p.labels, 'thread_id')).toBeDefined();
  });

  it('keeps kernel, native and Go frames apart by their mapping', () => {
    const bins = binariesOf(fromBin);
    expect(bins).toContain('[kernel] vmlinux');
    expect(bins).toContain('[kernel] iwlwifi'); // a kernel module
    expect(bins).toContain('libc.so.6'); // native
    expect(bins).toContain('[go] containerd'); // Go runtime-symbolized frames
  });

  it('orders frames leaf first so folded stacks read root → leaf', () => {
    // Sample 0 of the first resource (pid 66, a migration kthread) is a kernel stack; check it against
    // the raw JSON: stack_table → location_table → function_table → string_table.
    const raw = JSON.parse(json);
    const d = raw.dictionary;
    const sample = raw.resourceProfiles[0].scopeProfiles[0].profiles[0].samples[0];
    const names = (d.stackTable[sample.stackIndex].locationIndices as number[]).map(
      (li) => d.stringTable[d.functionTable[d.locationTable[li].lines[0].functionIndex].nameStrindex ?? 0] as string,
    );
    const expected = [...names].reverse().join(';');
    const pid66 = fromBin.filter((p) => getLabel(p.labels, 'process_pid') === '66');
    expect([...foldedOf(pid66).keys()]).toContain(expected);
    expect(expected.startsWith('ret_from_fork_asm;')).toBe(true);
  });

  it('keeps unsymbolized frames as binary+address', () => {
    const stacks = [...foldedOf(fromBin).keys()].join('\n');
    expect(stacks).toMatch(/libc\.so\.6\+0x[0-9a-f]+/);
  });

  it('survives decode → encode → decode with the same labels, frames and totals', () => {
    const again = decodeOtlpProtobuf(encodeOtlpProtobuf(fromBin), { nowMs: NOW });
    expect(again.map((p) => p.labels)).toEqual(fromBin.map((p) => p.labels));
    expect(foldedOf(again)).toEqual(foldedOf(fromBin));
    expect(totalByType(again)).toEqual(totalByType(fromBin));
    expect(binariesOf(again)).toEqual(binariesOf(fromBin));
  });

  it('is readable through the format registry, raw, gzipped and as JSON', () => {
    const viaRegistry = decodeProfiles('otlp', bin, { timeMs: NOW });
    expect(totalByType(viaRegistry)).toEqual(totalByType(fromBin));
    expect(totalByType(decodeProfiles('otlp', gzipSync(bin), { timeMs: NOW }))).toEqual(totalByType(fromBin));
    expect(totalByType(decodeProfiles('otlp', new TextEncoder().encode(json), { timeMs: NOW }))).toEqual(totalByType(fromBin));
  });
});

/** A CPU profile with kernel, native, unsymbolized and interpreted (Python) frames. */
function agentProfile(labels: Record<string, string>, timeMs = NOW): Profile {
  const b = new DictionaryBuilder();
  const kernel = b.mapping('[kernel.kallsyms]');
  const app = b.mapping('/usr/bin/app', 'abcdef0123');
  const libc = b.mapping('/usr/lib/libc.so.6');
  const py = b.mapping('[python]');
  const main = b.location(app, 0x1000n, [{ function: b.function('main', '', 'main.c'), line: 12 }]);
  const burn = b.location(app, 0x1100n, [{ function: b.function('burn_a', '_Z6burn_av', 'burn.c'), line: 40 }]);
  const sys = b.location(kernel, 0n, [{ function: b.function('do_syscall_64'), line: 0 }]);
  const raw = b.location(libc, 0x9abcn, []);
  const pyFn = b.location(py, 0n, [{ function: b.function('handler', '', 'app.py'), line: 7 }]);
  const period = 1e9 / 19;
  return {
    type: CPU_TYPE,
    labels: labelsFrom(labels),
    timeMs,
    durationNs: 10e9,
    period,
    dict: b.dict,
    stacks: [b.stack([burn, main]), b.stack([sys, raw, main]), b.stack([pyFn, main])],
    values: [7e9, 3e9, 1e9],
  };
}

describe('encodeOtlp → decodeOtlp round trip', () => {
  const profiles = [
    agentProfile({ service_name: 'checkout', pid: '4242', comm: 'app', node: 'n1' }),
    agentProfile({ service_name: 'billing', pid: '77', container_id: 'c0ffee' }, NOW + 10_000),
  ];

  for (const [name, roundTrip] of [
    ['protobuf', (p: Profile[]) => decodeOtlpProtobuf(encodeOtlpProtobuf(p))],
    ['JSON', (p: Profile[]) => decodeOtlpJson(encodeOtlpJson(p))],
  ] as const) {
    it(`gives equal totals, frames, labels, times and types over ${name}`, () => {
      const back = roundTrip(profiles);
      expect(back).toHaveLength(2);
      back.forEach((p, i) => {
        expect(p.labels).toEqual(profiles[i]!.labels);
        expect(p.type).toEqual(CPU_TYPE);
        expect(p.timeMs).toBe(profiles[i]!.timeMs);
        expect(p.durationNs).toBe(10e9);
        expect(foldedOf([p])).toEqual(foldedOf([profiles[i]!]));
        expect(binariesOf([p])).toEqual(binariesOf([profiles[i]!]));
      });
    });
  }

  it('writes the frame types other OTLP readers understand', () => {
    const req = encodeOtlp(profiles);
    const d = req.dictionary!;
    const types = new Set(d.attributeTable.filter((a) => d.stringTable[a.keyStrindex] === 'profile.frame.type').map((a) => a.value?.value.value));
    expect(types).toEqual(new Set(['kernel', 'native', 'python']));
    const resource = req.resourceProfiles[0]!.resource!.attributes.map((a) => a.key);
    expect(resource).toContain('service.name');
    expect(d.stringTable[0]).toBe('');
  });

  it('keeps build ids and non-CPU types', () => {
    const heap: Profile = { ...agentProfile({ service_name: 'x' }), type: { name: 'memory', sampleType: 'inuse_space', sampleUnit: 'bytes', periodType: 'space', periodUnit: 'bytes' } };
    const mutex: Profile = { ...heap, type: { name: 'mutex', sampleType: 'contentions', sampleUnit: 'count', periodType: 'contentions', periodUnit: 'count' } };
    const back = decodeOtlp(encodeOtlp([heap, mutex]));
    expect(back.map((p) => profileTypeId(p.type))).toEqual([profileTypeId(heap.type), profileTypeId(mutex.type)]);
    expect(back[0]!.dict.mappings.find((m) => m.binary === '/usr/bin/app')?.buildId).toBe('abcdef0123');
  });
});

/** A small hand-built request: two threads of one process on two CPUs. */
function threadRequest(mutate?: (r: ReturnType<typeof baseRequest>) => void): Uint8Array {
  const r = baseRequest();
  mutate?.(r);
  return toBinary(ExportProfilesServiceRequestSchema, create(ExportProfilesServiceRequestSchema, r));
}

function baseRequest() {
  const strings = ['', 'samples', 'count', 'cpu', 'nanoseconds', 'thread.id', 'cpu.logical_number', 'work', 'app', 'profile.frame.type', 'native', 'service.name', 'from-sample'];
  const attr = (k: number, v: { case: 'intValue'; value: bigint } | { case: 'stringValue'; value: string }) => ({ keyStrindex: k, value: { value: v } });
  return {
    dictionary: {
      stringTable: strings,
      mappingTable: [{}, { filenameStrindex: 8 }],
      functionTable: [{}, { nameStrindex: 7 }],
      locationTable: [{}, { mappingIndex: 1, address: 16n, lines: [{ functionIndex: 1 }], attributeIndices: [5] }],
      stackTable: [{}, { locationIndices: [1] }],
      linkTable: [{}],
      attributeTable: [
        {},
        attr(5, { case: 'intValue', value: 1n }),
        attr(5, { case: 'intValue', value: 2n }),
        attr(6, { case: 'intValue', value: 0n }),
        attr(6, { case: 'intValue', value: 3n }),
        attr(9, { case: 'stringValue', value: 'native' }),
        attr(11, { case: 'stringValue', value: 'from-sample' }),
      ],
    },
    resourceProfiles: [
      {
        resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue' as const, value: 'svc' } } }, { key: 'process.pid', value: { value: { case: 'intValue' as const, value: 9n } } }] },
        scopeProfiles: [
          {
            profiles: [
              {
                sampleType: { typeStrindex: 1, unitStrindex: 2 },
                periodType: { typeStrindex: 3, unitStrindex: 4 },
                period: 10n,
                timeUnixNano: 5_000_000n,
                samples: [
                  { stackIndex: 1, attributeIndices: [1, 3], timestampsUnixNano: [1n, 2n] },
                  { stackIndex: 1, attributeIndices: [1, 4], values: [3n] },
                  { stackIndex: 1, attributeIndices: [2, 3], values: [5n] },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('OTLP decoding rules', () => {
  it('splits by thread, not by CPU, and scales counts by the period', () => {
    const ps = decodeOtlpProtobuf(threadRequest());
    expect(ps.map((p) => [getLabel(p.labels, 'thread_id'), p.values.reduce((a, b) => a + b)])).toEqual([
      ['1', 50], // 2 time stamps + 3 counts, × period 10
      ['2', 50],
    ]);
    expect(ps[0]!.labels).toEqual(labelsFrom({ service_name: 'svc', process_pid: '9', thread_id: '1' }));
    expect(ps[0]!.timeMs).toBe(5);
  });

  it('lets a sample attribute override the resource (service.name)', () => {
    const ps = decodeOtlpProtobuf(threadRequest((r) => r.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[2]!.attributeIndices.push(6)));
    expect(labelValuesOf(ps, 'service_name')).toEqual(['from-sample', 'svc']);
  });

  it('accepts an empty request as no profiles', () => {
    expect(decodeOtlp(create(ExportProfilesServiceRequestSchema))).toEqual([]);
  });
});

function labelValuesOf(ps: Profile[], name: string): string[] {
  return [...new Set(ps.map((p) => getLabel(p.labels, name) ?? ''))].sort();
}

describe('OTLP/JSON', () => {
  it('writes and reads trace, span and profile ids as hex, as the OTLP JSON encoding requires', () => {
    const req = encodeOtlp([agentProfile({ service_name: 'ids' })]);
    req.dictionary!.linkTable.push(create(LinkSchema, { traceId: Uint8Array.from({ length: 16 }, (_, i) => i + 1), spanId: Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]) }));
    req.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.profileId = new Uint8Array(16).fill(0xab);
    const text = serializeOtlpJson(req);
    const json = JSON.parse(text);
    expect(json.dictionary.linkTable[1]).toEqual({ traceId: '0102030405060708090a0b0c0d0e0f10', spanId: 'deadbeef00010203' });
    expect(json.resourceProfiles[0].scopeProfiles[0].profiles[0].profileId).toBe('ab'.repeat(16));
    const back = parseOtlpJson(text);
    expect(back.dictionary!.linkTable[1]!.spanId).toEqual(Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]));
    expect(back.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.profileId).toEqual(new Uint8Array(16).fill(0xab));
  });

  it('ignores fields it does not know, as OTLP receivers must', () => {
    const ps = decodeOtlpJson(JSON.stringify({ resourceProfiles: [], futureField: { x: 1 } }));
    expect(ps).toEqual([]);
  });
});

describe('bad OTLP input is an InputError that says what is wrong', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['garbage bytes', () => parseOtlpProtobuf(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])), /not an OTLP ExportProfilesServiceRequest/],
    ['invalid JSON', () => decodeOtlpJson('{"resourceProfiles": ['), /not valid JSON/],
    ['JSON of the wrong shape', () => decodeOtlpJson('{"resourceProfiles": 7}'), /not an OTLP ExportProfilesServiceRequest/],
    ['a JSON array', () => decodeOtlpJson('[]'), /must be an ExportProfilesServiceRequest object/],
    [
      'a stack index past the stack table',
      () => decodeOtlpProtobuf(threadRequest((r) => (r.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.stackIndex = 99))),
      /samples\[0\] refers to stack_table\[99\] but the dictionary's stack_table has 2 entries/,
    ],
    [
      'a location index past the location table',
      () => decodeOtlpProtobuf(threadRequest((r) => r.dictionary.stackTable[1]!.locationIndices!.push(5))),
      /location_table\[5\]/,
    ],
    [
      'an attribute index past the attribute table',
      () => decodeOtlpProtobuf(threadRequest((r) => r.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[1]!.attributeIndices.push(1000))),
      /attribute_table\[1000\]/,
    ],
    [
      'a string index past the string table',
      () => decodeOtlpProtobuf(threadRequest((r) => (r.dictionary.functionTable[1]!.nameStrindex = 500))),
      /string_table\[500\]/,
    ],
  ];
  for (const [name, run, message] of cases) {
    it(name, () => {
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(message);
    });
  }
});

describe('corrupted captures', () => {
  it('either decode or fail as an InputError — never crash with another error (300 seeded mutations)', () => {
    const { bin } = captureFiles();
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const outcome = { decoded: 0, refused: 0 };
    for (let i = 0; i < 300; i++) {
      const b = bin.slice();
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        for (const p of decodeOtlpProtobuf(b)) {
          try {
            validateProfile(p);
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
          }
        }
        outcome.decoded++;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        outcome.refused++;
      }
    }
    // Both paths must really be exercised for the test to mean anything.
    expect(outcome.decoded).toBeGreaterThan(30);
    expect(outcome.refused).toBeGreaterThan(30);
  });
});
