import { create } from '@bufbuild/protobuf';
import {
  ExportProfilesServiceRequestSchema,
  type ExportProfilesServiceRequest,
} from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import {
  FunctionSchema,
  KeyValueAndUnitSchema,
  LineSchema,
  LinkSchema,
  LocationSchema,
  MappingSchema,
  ProfileSchema,
  ProfilesDictionarySchema,
  ResourceProfilesSchema,
  SampleSchema,
  StackSchema,
  ValueTypeSchema,
  type ProfilesDictionary,
  type Sample,
} from '../gen/opentelemetry/proto/profiles/v1development/profiles_pb.js';
import { AnyValueSchema, KeyValueSchema } from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import type { Profile } from '../model/profile.js';
import type { SymbolDictionary } from '../model/symbols.js';
import { attributeKeyOf } from './otlp-attributes.js';
import { FRAME_TYPE_ATTRIBUTE, frameTypeOf } from './otlp-frame-type.js';
import { otlpTypesOf, PROFILE_NAME_ATTRIBUTE } from './otlp-profile-type.js';

/** Instrumentation scope Kiln writes its profiles under. */
export const KILN_SCOPE = 'kiln';
const GNU_BUILD_ID_ATTRIBUTE = 'process.executable.build_id.gnu';

/**
 * Builds one OTLP dictionary for a whole request, de-duplicating by content (entry 0 of every table
 * is the null entry the specification reserves).
 */
class OtlpDictionaryBuilder {
  readonly dict: ProfilesDictionary = create(ProfilesDictionarySchema, {
    mappingTable: [create(MappingSchema)],
    locationTable: [create(LocationSchema)],
    functionTable: [create(FunctionSchema)],
    linkTable: [create(LinkSchema)],
    stringTable: [''],
    attributeTable: [create(KeyValueAndUnitSchema)],
    stackTable: [create(StackSchema)],
  });
  private readonly index = new Map<string, number>();
  /** Per Kiln dictionary: its location / stack index → this dictionary's. */
  private readonly locationsOf = new Map<SymbolDictionary, Map<number, number>>();
  private readonly stacksOf = new Map<SymbolDictionary, Map<number, number>>();

  private intern(kind: string, key: string, add: () => number): number {
    const k = `${kind}\0${key}`;
    let i = this.index.get(k);
    if (i === undefined) {
      i = add();
      this.index.set(k, i);
    }
    return i;
  }

  string(s: string): number {
    return s === '' ? 0 : this.intern('s', s, () => this.dict.stringTable.push(s) - 1);
  }

  stringAttribute(key: string, value: string): number {
    return this.intern('a', `${key}\0${value}`, () =>
      this.dict.attributeTable.push(
        create(KeyValueAndUnitSchema, {
          keyStrindex: this.string(key),
          value: create(AnyValueSchema, { value: { case: 'stringValue', value } }),
        }),
      ) - 1,
    );
  }

  private mapping(fileName: string, buildId: string): number {
    if (fileName === '' && buildId === '') return 0;
    return this.intern('m', `${fileName}\0${buildId}`, () =>
      this.dict.mappingTable.push(
        create(MappingSchema, {
          filenameStrindex: this.string(fileName),
          attributeIndices: buildId ? [this.stringAttribute(GNU_BUILD_ID_ATTRIBUTE, buildId)] : [],
        }),
      ) - 1,
    );
  }

  private function(name: string, systemName: string, file: string): number {
    return this.intern('f', `${name}\0${systemName}\0${file}`, () =>
      this.dict.functionTable.push(
        create(FunctionSchema, {
          nameStrindex: this.string(name),
          systemNameStrindex: this.string(systemName),
          filenameStrindex: this.string(file),
        }),
      ) - 1,
    );
  }

  private location(src: SymbolDictionary, li: number): number {
    let perDict = this.locationsOf.get(src);
    if (!perDict) this.locationsOf.set(src, (perDict = new Map()));
    let i = perDict.get(li);
    if (i !== undefined) return i;
    const loc = src.locations[li]!;
    const m = loc.mapping >= 0 ? src.mappings[loc.mapping]! : { binary: '', buildId: '' };
    const { frameType, fileName } = frameTypeOf(m.binary);
    const mappingIndex = this.mapping(fileName, m.buildId);
    const lines = loc.lines.map((ln) => {
      const f = src.functions[ln.function]!;
      return { functionIndex: this.function(f.name, f.systemName, f.file), line: ln.line };
    });
    const key = `${mappingIndex}\0${frameType}\0${loc.address}\0${lines.map((l) => `${l.functionIndex}:${l.line}`).join(',')}`;
    i = this.intern('l', key, () =>
      this.dict.locationTable.push(
        create(LocationSchema, {
          mappingIndex,
          address: loc.address,
          lines: lines.map((l) => create(LineSchema, { functionIndex: l.functionIndex, line: BigInt(l.line) })),
          attributeIndices: [this.stringAttribute(FRAME_TYPE_ATTRIBUTE, frameType)],
        }),
      ) - 1,
    );
    perDict.set(li, i);
    return i;
  }

  stack(src: SymbolDictionary, si: number): number {
    let perDict = this.stacksOf.get(src);
    if (!perDict) this.stacksOf.set(src, (perDict = new Map()));
    let i = perDict.get(si);
    if (i !== undefined) return i;
    const locs = src.stacks[si]!.map((li) => this.location(src, li));
    i = this.intern('k', locs.join(','), () => this.dict.stackTable.push(create(StackSchema, { locationIndices: locs })) - 1);
    perDict.set(si, i);
    return i;
  }
}

/**
 * Kiln profiles → one OTLP ExportProfilesServiceRequest: a ResourceProfiles per profile whose resource
 * attributes are the profile's labels (`service_name` as `service.name`), one shared dictionary.
 * Values are written in the profile's own unit (CPU as cpu/nanoseconds with period type
 * cpu/nanoseconds), rounded to integers since OTLP values are int64; samples with the same stack
 * are summed. The decoder in otlp-decode.ts reads back the same labels, frames and totals.
 */
export function encodeOtlp(profiles: readonly Profile[]): ExportProfilesServiceRequest {
  const b = new OtlpDictionaryBuilder();
  const resourceProfiles = profiles.map((p) => {
    const t = otlpTypesOf(p.type, p.period);
    const sums = new Map<number, number>();
    for (let i = 0; i < p.stacks.length; i++) {
      const si = b.stack(p.dict, p.stacks[i]!);
      sums.set(si, (sums.get(si) ?? 0) + p.values[i]!);
    }
    const samples: Sample[] = [];
    for (const [stackIndex, v] of sums) {
      const value = Math.round(v);
      if (value !== 0) samples.push(create(SampleSchema, { stackIndex, values: [BigInt(value)] }));
    }
    const profile = create(ProfileSchema, {
      sampleType: create(ValueTypeSchema, { typeStrindex: b.string(t.sampleType), unitStrindex: b.string(t.sampleUnit) }),
      periodType: create(ValueTypeSchema, { typeStrindex: b.string(t.periodType), unitStrindex: b.string(t.periodUnit) }),
      period: BigInt(Math.round(t.period)),
      timeUnixNano: BigInt(Math.round(p.timeMs)) * 1_000_000n,
      durationNano: BigInt(Math.round(p.durationNs)),
      samples,
      attributeIndices: t.name ? [b.stringAttribute(PROFILE_NAME_ATTRIBUTE, t.name)] : [],
    });
    return create(ResourceProfilesSchema, {
      resource: {
        attributes: p.labels.map((l) =>
          create(KeyValueSchema, { key: attributeKeyOf(l.name), value: { value: { case: 'stringValue', value: l.value } } }),
        ),
      },
      scopeProfiles: [{ scope: { name: KILN_SCOPE }, profiles: [profile] }],
    });
  });
  return create(ExportProfilesServiceRequestSchema, { resourceProfiles, dictionary: b.dict });
}
