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
import { attributeKeyOf } from './otlp-attributes.js';
import { otlpTypesOf, PROFILE_NAME_ATTRIBUTE } from './otlp-profile-type.js';
import { KILN_SCOPE } from './otlp-names.js';
import { OtlpRequestDictionary } from './otlp-request-dictionary.js';

export { KILN_SCOPE };

/** The request's plain tables as the ProfilesDictionary message. */
function dictionaryMessage(t: OtlpRequestDictionary): ProfilesDictionary {
  return create(ProfilesDictionarySchema, {
    mappingTable: t.mappings.map((m) => create(MappingSchema, { filenameStrindex: m.filename, attributeIndices: m.buildIdAttribute ? [m.buildIdAttribute] : [] })),
    locationTable: t.locations.map((l) =>
      create(LocationSchema, {
        mappingIndex: l.mapping,
        address: l.address,
        lines: l.functions.map((functionIndex, k) => create(LineSchema, { functionIndex, line: BigInt(l.lines[k]!) })),
        attributeIndices: l.frameType ? [l.frameType] : [],
      }),
    ),
    functionTable: t.functions.map((f) => create(FunctionSchema, { nameStrindex: f.name, systemNameStrindex: f.systemName, filenameStrindex: f.file })),
    linkTable: [create(LinkSchema)],
    stringTable: t.strings,
    attributeTable: t.attributes.map((a, i) =>
      i === 0 ? create(KeyValueAndUnitSchema) : create(KeyValueAndUnitSchema, { keyStrindex: a.key, value: create(AnyValueSchema, { value: { case: 'stringValue', value: a.value } }) }),
    ),
    stackTable: t.stacks.map((locationIndices) => create(StackSchema, { locationIndices: [...locationIndices] })),
  });
}

/**
 * Kiln profiles → one OTLP ExportProfilesServiceRequest: a ResourceProfiles per profile whose resource
 * attributes are the profile's labels (`service_name` as `service.name`), one shared dictionary.
 * Values are written in the profile's own unit (CPU as cpu/nanoseconds with period type
 * cpu/nanoseconds), rounded to integers since OTLP values are int64; samples with the same stack
 * are summed. The decoder in otlp-decode.ts reads back the same labels, frames and totals.
 */
export function encodeOtlp(profiles: readonly Profile[]): ExportProfilesServiceRequest {
  const b = new OtlpRequestDictionary();
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
  return create(ExportProfilesServiceRequestSchema, { resourceProfiles, dictionary: dictionaryMessage(b) });
}
