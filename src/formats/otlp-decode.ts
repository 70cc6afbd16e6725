import type { ExportProfilesServiceRequest } from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { ProfilesDictionarySchema, type Profile as OtlpProfile } from '../gen/opentelemetry/proto/profiles/v1development/profiles_pb.js';
import type { KeyValue } from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import { labelsFrom, type Labels } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import { profileTypeId } from '../model/profile-type.js';
import { DictionaryBuilder } from '../model/symbols.js';
import { ensureServiceName, labelValueOf, putAttribute } from './otlp-attributes.js';
import { binaryFor, FRAME_TYPE_ATTRIBUTE } from './otlp-frame-type.js';
import { kilnTypeOf, PROFILE_NAME_ATTRIBUTE, type KilnTypeMapping } from './otlp-profile-type.js';
import { OtlpTables } from './otlp-tables.js';

export interface DecodeOtlpOptions {
  /** Time stamp (Unix ms) for profiles that carry no time at all; default: now. */
  readonly nowMs?: number;
}

/** Mapping attribute holding the GNU build id (hex), as the OpenTelemetry eBPF profiler writes it. */
const GNU_BUILD_ID_ATTRIBUTE = 'process.executable.build_id.gnu';

/** One OTLP location, resolved to strings once and reused by every series that contains it. */
interface Frame {
  readonly binary: string;
  readonly buildId: string;
  readonly address: bigint;
  readonly lines: readonly { name: string; systemName: string; file: string; line: number }[];
}

/** The samples of one Kiln series, with its own compact dictionary. */
class SeriesBuilder {
  readonly dict = new DictionaryBuilder();
  readonly stacks: number[] = [];
  readonly values: number[] = [];
  private readonly localStack = new Map<number, number>();

  constructor(
    readonly labels: Labels,
    readonly mapping: KilnTypeMapping,
    readonly timeMs: number,
    readonly durationNs: number,
  ) {}

  add(otlpStack: number, value: number, resolveStack: (i: number) => readonly Frame[]): void {
    let s = this.localStack.get(otlpStack);
    if (s === undefined) {
      const locs = resolveStack(otlpStack).map((f) => {
        const mapping = f.binary === '' && f.buildId === '' ? -1 : this.dict.mapping(f.binary, f.buildId);
        const lines = f.lines.map((l) => ({ function: this.dict.function(l.name, l.systemName, l.file), line: l.line }));
        return this.dict.location(mapping, lines.length > 0 ? 0n : f.address, lines);
      });
      s = this.dict.stack(locs);
      this.localStack.set(otlpStack, s);
    }
    this.stacks.push(s);
    this.values.push(value);
  }

  toProfile(): Profile {
    return {
      type: this.mapping.type,
      labels: this.labels,
      timeMs: this.timeMs,
      durationNs: this.durationNs,
      period: this.mapping.period,
      dict: this.dict.dict,
      stacks: this.stacks,
      values: this.values,
    };
  }
}

/**
 * An OTLP ExportProfilesServiceRequest → Kiln profiles, one per series.
 *
 * Labels come from resource, scope, profile and sample attributes (otlp-attributes.ts); samples whose
 * attributes differ (another thread, another process) land in different series. The type and value
 * scaling follow otlp-profile-type.ts; frame types travel in mapping names (otlp-frame-type.ts).
 * Every table reference is bounds-checked, so a malformed request is an InputError that names the
 * bad reference, at a cost linear in the request's size.
 */
export function decodeOtlp(req: ExportProfilesServiceRequest, opts: DecodeOtlpOptions = {}): Profile[] {
  const tables = new OtlpTables(req.dictionary ?? create(ProfilesDictionarySchema));
  const frames = new Map<number, Frame>();
  const stacks = new Map<number, readonly Frame[]>();

  const resolveFrame = (li: number, where: string): Frame => {
    let f = frames.get(li);
    if (f) return f;
    const loc = tables.location(li, where);
    const here = `location_table[${li}]`;
    const mapping = loc ? tables.mapping(loc.mappingIndex, here) : undefined;
    const fileName = mapping ? tables.string(mapping.filenameStrindex, `mapping_table[${loc!.mappingIndex}]`) : '';
    const buildId = mapping ? tables.findString(mapping.attributeIndices, GNU_BUILD_ID_ATTRIBUTE, `mapping_table[${loc!.mappingIndex}]`) : '';
    const frameType = loc ? tables.findString(loc.attributeIndices, FRAME_TYPE_ATTRIBUTE, here) : '';
    const lines: Frame['lines'][number][] = [];
    for (const ln of loc?.lines ?? []) {
      const fn = tables.function(ln.functionIndex, here);
      if (!fn) continue;
      const name = tables.string(fn.nameStrindex, `function_table[${ln.functionIndex}]`);
      const systemName = tables.string(fn.systemNameStrindex, `function_table[${ln.functionIndex}]`);
      if (name === '' && systemName === '') continue; // a nameless frame is unsymbolized: keep the address
      lines.push({
        name: name || systemName,
        systemName: systemName === name ? '' : systemName,
        file: tables.string(fn.filenameStrindex, `function_table[${ln.functionIndex}]`),
        line: Number(ln.line),
      });
    }
    f = { binary: binaryFor(frameType, fileName), buildId, address: loc?.address ?? 0n, lines };
    frames.set(li, f);
    return f;
  };

  const resolveStack = (si: number, where: string): readonly Frame[] => {
    let s = stacks.get(si);
    if (!s) {
      const st = tables.stack(si, where);
      s = (st?.locationIndices ?? []).map((li) => resolveFrame(li, `stack_table[${si}]`));
      stacks.set(si, s);
    }
    return s;
  };

  const series = new Map<string, SeriesBuilder>();
  req.resourceProfiles.forEach((rp, ri) => {
    const resourceLabels = new Map<string, string>();
    putAll(resourceLabels, rp.resource?.attributes ?? []);
    rp.scopeProfiles.forEach((sp, si) => {
      const scopeLabels = new Map(resourceLabels);
      putAll(scopeLabels, sp.scope?.attributes ?? []);
      sp.profiles.forEach((p, pi) => {
        const where = `resource_profiles[${ri}].scope_profiles[${si}].profiles[${pi}]`;
        decodeProfile(p, where, scopeLabels, tables, series, opts, resolveStack);
      });
    });
  });
  return [...series.values()].filter((s) => s.values.length > 0).map((s) => s.toProfile());
}

function putAll(into: Map<string, string>, attrs: readonly KeyValue[]): void {
  for (const kv of attrs) putAttribute(into, kv.key, kv.value);
}

function decodeProfile(
  p: OtlpProfile,
  where: string,
  scopeLabels: ReadonlyMap<string, string>,
  tables: OtlpTables,
  series: Map<string, SeriesBuilder>,
  opts: DecodeOtlpOptions,
  resolveStack: (si: number, where: string) => readonly Frame[],
): void {
  const profileLabels = new Map(scopeLabels);
  let name: string | undefined;
  for (const ai of p.attributeIndices) {
    const a = tables.attribute(ai, where);
    const key = tables.attributeKey(a, where);
    if (key === PROFILE_NAME_ATTRIBUTE) name = labelValueOf(a?.value);
    else putAttribute(profileLabels, key, a?.value);
  }
  const mapping = kilnTypeOf({
    sampleType: tables.string(p.sampleType?.typeStrindex ?? 0, `${where}.sample_type`),
    sampleUnit: tables.string(p.sampleType?.unitStrindex ?? 0, `${where}.sample_type`),
    periodType: tables.string(p.periodType?.typeStrindex ?? 0, `${where}.period_type`),
    periodUnit: tables.string(p.periodType?.unitStrindex ?? 0, `${where}.period_type`),
    period: Number(p.period),
    ...(name ? { name } : {}),
  });
  const timeMs = profileTimeMs(p, opts);
  const durationNs = Number(p.durationNano);
  const typeKey = `${profileTypeId(mapping.type)}\0${timeMs}\0${durationNs}\0${mapping.period}`;

  // Samples of one profile usually repeat a handful of attribute sets: label them once per set.
  const byAttributes = new Map<string, SeriesBuilder>();
  p.samples.forEach((s, i) => {
    const here = `${where}.samples[${i}]`;
    const attrKey = s.attributeIndices.join(',');
    let target = byAttributes.get(attrKey);
    if (!target) {
      const labels = new Map(profileLabels);
      for (const ai of s.attributeIndices) {
        const a = tables.attribute(ai, here);
        putAttribute(labels, tables.attributeKey(a, here), a?.value);
      }
      ensureServiceName(labels);
      const sorted = labelsFrom(labels);
      const key = `${typeKey}\0${sorted.map((l) => `${l.name}=${l.value}`).join('\0')}`;
      target = series.get(key);
      if (!target) {
        target = new SeriesBuilder(sorted, mapping, timeMs, durationNs);
        series.set(key, target);
      }
      byAttributes.set(attrKey, target);
    }
    // Values pair with timestamps; timestamps alone count one event each (the spec's rule).
    let count = 0;
    if (s.values.length > 0) for (const v of s.values) count += Number(v);
    else count = s.timestampsUnixNano.length;
    const value = count * mapping.scale;
    if (value === 0) return;
    target.add(s.stackIndex, value, (si) => resolveStack(si, here));
  });
}

/** The profile's start: its own time, else its earliest sample time stamp, else now. */
function profileTimeMs(p: OtlpProfile, opts: DecodeOtlpOptions): number {
  if (p.timeUnixNano > 0n) return Number(p.timeUnixNano / 1_000_000n);
  let min: bigint | undefined;
  for (const s of p.samples) for (const t of s.timestampsUnixNano) if (t > 0n && (min === undefined || t < min)) min = t;
  return min !== undefined ? Number(min / 1_000_000n) : (opts.nowMs ?? Date.now());
}
