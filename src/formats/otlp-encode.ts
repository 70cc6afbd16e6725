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
import { attributeKeyOf, GNU_BUILD_ID_ATTRIBUTE } from './otlp-attributes.js';
import { FRAME_TYPE_ATTRIBUTE, frameTypeOf, NATIVE } from './otlp-frame-type.js';
import { otlpTypesOf, PROFILE_NAME_ATTRIBUTE } from './otlp-profile-type.js';

/** Instrumentation scope Kiln writes its profiles under. */
export const KILN_SCOPE = 'kiln';

/** What one Kiln dictionary's entries became in the OTLP dictionary (-1 = not yet added). */
class SourceIndex {
  readonly mappings: Int32Array;
  readonly frameTypes: Int32Array;
  readonly functions: Int32Array;
  readonly locations: Int32Array;
  readonly stacks: Int32Array;

  constructor(d: SymbolDictionary) {
    this.mappings = new Int32Array(d.mappings.length).fill(-1);
    this.frameTypes = new Int32Array(d.mappings.length).fill(-1);
    this.functions = new Int32Array(d.functions.length).fill(-1);
    this.locations = new Int32Array(d.locations.length).fill(-1);
    this.stacks = new Int32Array(d.stacks.length).fill(-1);
  }
}

/**
 * Builds one OTLP dictionary for a whole request, de-duplicating by content (entry 0 of every table
 * is the null entry the specification reserves). Each Kiln dictionary entry is translated once and
 * remembered by index, so the content keys are built once per entry, not once per use.
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
  private readonly strings = new Map<string, number>([['', 0]]);
  private readonly attributes = new Map<string, number>();
  private readonly mappings = new Map<string, number>();
  private readonly functions = new Map<string, number>();
  private readonly locations = new Map<string, number>();
  private readonly stacks = new Map<string, number>();
  private readonly sources = new Map<SymbolDictionary, SourceIndex>();

  string(s: string): number {
    let i = this.strings.get(s);
    if (i === undefined) this.strings.set(s, (i = this.dict.stringTable.push(s) - 1));
    return i;
  }

  stringAttribute(key: string, value: string): number {
    const k = this.string(key);
    const id = `${k}\0${value}`;
    let i = this.attributes.get(id);
    if (i === undefined) {
      const attr = create(KeyValueAndUnitSchema, { keyStrindex: k, value: create(AnyValueSchema, { value: { case: 'stringValue', value } }) });
      this.attributes.set(id, (i = this.dict.attributeTable.push(attr) - 1));
    }
    return i;
  }

  private source(src: SymbolDictionary): SourceIndex {
    let s = this.sources.get(src);
    if (!s) this.sources.set(src, (s = new SourceIndex(src)));
    return s;
  }

  /** The OTLP mapping of a Kiln mapping, and the frame-type attribute its locations carry. */
  private mapping(src: SymbolDictionary, at: SourceIndex, mi: number): void {
    const m = src.mappings[mi]!;
    const { frameType, fileName } = frameTypeOf(m.binary);
    at.frameTypes[mi] = this.stringAttribute(FRAME_TYPE_ATTRIBUTE, frameType);
    if (fileName === '' && m.buildId === '') {
      at.mappings[mi] = 0;
      return;
    }
    const file = this.string(fileName);
    const id = `${file}\0${m.buildId}`;
    let i = this.mappings.get(id);
    if (i === undefined) {
      const attributeIndices = m.buildId ? [this.stringAttribute(GNU_BUILD_ID_ATTRIBUTE, m.buildId)] : [];
      this.mappings.set(id, (i = this.dict.mappingTable.push(create(MappingSchema, { filenameStrindex: file, attributeIndices })) - 1));
    }
    at.mappings[mi] = i;
  }

  private function(src: SymbolDictionary, at: SourceIndex, fi: number): number {
    let i = at.functions[fi]!;
    if (i >= 0) return i;
    const f = src.functions[fi]!;
    const name = this.string(f.name);
    const systemName = this.string(f.systemName);
    const file = this.string(f.file);
    const id = `${name},${systemName},${file}`;
    i = this.functions.get(id) ?? -1;
    if (i < 0) {
      const fn = create(FunctionSchema, { nameStrindex: name, systemNameStrindex: systemName, filenameStrindex: file });
      this.functions.set(id, (i = this.dict.functionTable.push(fn) - 1));
    }
    at.functions[fi] = i;
    return i;
  }

  private location(src: SymbolDictionary, at: SourceIndex, li: number): number {
    let i = at.locations[li]!;
    if (i >= 0) return i;
    const loc = src.locations[li]!;
    let mappingIndex = 0;
    let frameType = this.stringAttribute(FRAME_TYPE_ATTRIBUTE, NATIVE);
    if (loc.mapping >= 0) {
      if (at.mappings[loc.mapping]! < 0) this.mapping(src, at, loc.mapping);
      mappingIndex = at.mappings[loc.mapping]!;
      frameType = at.frameTypes[loc.mapping]!;
    }
    let id = `${mappingIndex},${frameType}`;
    const fns: number[] = [];
    for (const ln of loc.lines) {
      const fn = this.function(src, at, ln.function);
      fns.push(fn);
      id += `,${fn}:${ln.line}`;
    }
    // Symbolized frames are their lines (as in the Kiln model); only unsymbolized ones need the address.
    if (loc.lines.length === 0) id += `@${loc.address}`;
    i = this.locations.get(id) ?? -1;
    if (i < 0) {
      const lines = loc.lines.map((ln, k) => create(LineSchema, { functionIndex: fns[k]!, line: BigInt(ln.line) }));
      const l = create(LocationSchema, { mappingIndex, address: loc.address, lines, attributeIndices: [frameType] });
      this.locations.set(id, (i = this.dict.locationTable.push(l) - 1));
    }
    at.locations[li] = i;
    return i;
  }

  stack(src: SymbolDictionary, si: number): number {
    const at = this.source(src);
    let i = at.stacks[si]!;
    if (i >= 0) return i;
    const locs = src.stacks[si]!.map((li) => this.location(src, at, li));
    const id = locs.join(',');
    i = this.stacks.get(id) ?? -1;
    if (i < 0) this.stacks.set(id, (i = this.dict.stackTable.push(create(StackSchema, { locationIndices: locs })) - 1));
    at.stacks[si] = i;
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
