import type { Profile } from '../model/index.js';
import { attributeKeyOf } from '../formats/otlp-attributes.js';
import { KILN_SCOPE } from '../formats/otlp-names.js';
import { otlpTypesOf, PROFILE_NAME_ATTRIBUTE } from '../formats/otlp-profile-type.js';
import { OtlpContentNumbering } from '../formats/otlp-content-numbering.js';
import { OtlpRequestDictionary } from '../formats/otlp-request-dictionary.js';
import { ProtoWriter } from './proto-writer.js';

/**
 * The agent's OTLP encoder: the ExportProfilesServiceRequest that src/formats/otlp-encode.ts builds —
 * the same tables, in the same order, the same bytes — written straight into a byte buffer. Every 10 s
 * the agent encodes about a hundred profiles over thousands of frames; building a protobuf message
 * object per entry and serializing them by reflection took 13–17 ms of CPU per interval in
 * bench/agent-overhead.ts's load (≈ 0.15 % of a core, half the agent's whole budget), this ≈ 1–2 ms.
 * Its buffer is kept from one interval to the next, and so is the content numbering of the dictionary's
 * entries (otlp-content-numbering.ts): over the agent's kept dictionary a request keys only the entries
 * no earlier request used.
 */

/** Field numbers (opentelemetry/proto/profiles/v1development/profiles.proto and its imports). */
const F = {
  request: { resourceProfiles: 1, dictionary: 2 },
  resourceProfiles: { resource: 1, scopeProfiles: 2 },
  resource: { attributes: 1 },
  keyValue: { key: 1, value: 2 },
  anyValue: { stringValue: 1 },
  scopeProfiles: { scope: 1, profiles: 2 },
  scope: { name: 1 },
  profile: { sampleType: 1, samples: 2, timeUnixNano: 3, durationNano: 4, periodType: 5, period: 6, attributeIndices: 11 },
  valueType: { type: 1, unit: 2 },
  sample: { stackIndex: 1, values: 4 },
  dictionary: { mappings: 1, locations: 2, functions: 3, links: 4, strings: 5, attributes: 6, stacks: 7 },
  mapping: { filename: 4, attributeIndices: 5 },
  location: { mappingIndex: 1, address: 2, lines: 3, attributeIndices: 4 },
  line: { functionIndex: 1, line: 2 },
  function: { name: 1, systemName: 2, filename: 3 },
  keyValueAndUnit: { key: 1, value: 2 },
  stack: { locationIndices: 1 },
} as const;

/** Encodes profiles as one OTLP ExportProfilesServiceRequest (protobuf). Reuses its buffer across calls. */
export class OtlpRequestEncoder {
  private readonly w = new ProtoWriter();

  constructor(private readonly numbering = new OtlpContentNumbering()) {}

  encode(profiles: readonly Profile[]): Uint8Array {
    const w = this.w;
    w.reset();
    const t = new OtlpRequestDictionary(this.numbering);
    for (const p of profiles) this.resourceProfiles(w, t, p);
    this.dictionary(w, t);
    return w.finish();
  }

  private resourceProfiles(w: ProtoWriter, t: OtlpRequestDictionary, p: Profile): void {
    const type = otlpTypesOf(p.type, p.period);
    // Tables fill in the order the reference encoder fills them: stacks, then value-type strings.
    const sums = new Map<number, number>();
    for (let i = 0; i < p.stacks.length; i++) {
      const si = t.stack(p.dict, p.stacks[i]!);
      sums.set(si, (sums.get(si) ?? 0) + p.values[i]!);
    }
    const sampleType = [t.string(type.sampleType), t.string(type.sampleUnit)] as const;
    const periodType = [t.string(type.periodType), t.string(type.periodUnit)] as const;
    const nameAttribute = type.name ? t.stringAttribute(PROFILE_NAME_ATTRIBUTE, type.name) : 0;

    w.begin(F.request.resourceProfiles);
    w.begin(F.resourceProfiles.resource);
    for (const l of p.labels) {
      w.begin(F.resource.attributes);
      w.string(F.keyValue.key, attributeKeyOf(l.name));
      w.begin(F.keyValue.value);
      w.string(F.anyValue.stringValue, l.value, true);
      w.end();
      w.end();
    }
    w.end();
    w.begin(F.resourceProfiles.scopeProfiles);
    w.begin(F.scopeProfiles.scope);
    w.string(F.scope.name, KILN_SCOPE);
    w.end();
    w.begin(F.scopeProfiles.profiles);
    valueType(w, F.profile.sampleType, sampleType);
    for (const [stackIndex, v] of sums) {
      const value = Math.round(v);
      if (value === 0) continue;
      w.begin(F.profile.samples);
      w.uint(F.sample.stackIndex, stackIndex);
      w.packedOne(F.sample.values, value);
      w.end();
    }
    w.fixed64(F.profile.timeUnixNano, BigInt(Math.round(p.timeMs)) * 1_000_000n);
    w.uint(F.profile.durationNano, Math.round(p.durationNs));
    valueType(w, F.profile.periodType, periodType);
    w.uint(F.profile.period, Math.round(type.period));
    if (nameAttribute) w.packedOne(F.profile.attributeIndices, nameAttribute);
    w.end();
    w.end();
    w.end();
  }

  private dictionary(w: ProtoWriter, t: OtlpRequestDictionary): void {
    const D = F.dictionary;
    w.begin(F.request.dictionary);
    for (const m of t.mappings) {
      w.begin(D.mappings);
      w.uint(F.mapping.filename, m.filename);
      if (m.buildIdAttribute) w.packedOne(F.mapping.attributeIndices, m.buildIdAttribute);
      w.end();
    }
    for (const l of t.locations) {
      w.begin(D.locations);
      w.uint(F.location.mappingIndex, l.mapping);
      w.uint64(F.location.address, l.address);
      for (let k = 0; k < l.functions.length; k++) {
        w.begin(F.location.lines);
        w.uint(F.line.functionIndex, l.functions[k]!);
        w.uint(F.line.line, l.lines[k]!);
        w.end();
      }
      if (l.frameType) w.packedOne(F.location.attributeIndices, l.frameType);
      w.end();
    }
    for (const f of t.functions) {
      w.begin(D.functions);
      w.uint(F.function.name, f.name);
      w.uint(F.function.systemName, f.systemName);
      w.uint(F.function.filename, f.file);
      w.end();
    }
    w.emptyMessage(D.links);
    for (const s of t.strings) w.string(D.strings, s, true);
    for (const a of t.attributes) {
      w.begin(D.attributes);
      if (a.key) {
        w.uint(F.keyValueAndUnit.key, a.key);
        w.begin(F.keyValueAndUnit.value);
        w.string(F.anyValue.stringValue, a.value, true);
        w.end();
      }
      w.end();
    }
    for (const s of t.stacks) {
      w.begin(D.stacks);
      w.packed(F.stack.locationIndices, s);
      w.end();
    }
    w.end();
  }
}

function valueType(w: ProtoWriter, field: number, [type, unit]: readonly [number, number]): void {
  w.begin(field);
  w.uint(F.valueType.type, type);
  w.uint(F.valueType.unit, unit);
  w.end();
}
