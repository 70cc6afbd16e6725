import { create } from '@bufbuild/protobuf';
import type { ExportProfilesServiceRequest } from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { ProfilesDictionarySchema, type Profile as OtlpProfile } from '../gen/opentelemetry/proto/profiles/v1development/profiles_pb.js';
import type { KeyValue } from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import { InputError } from '../model/errors.js';
import { labelsFrom, type Labels } from '../model/labels.js';
import type { Profile, SpanSamples } from '../model/profile.js';
import { DictionaryBuilder } from '../model/symbols.js';
import { ensureServiceName, GNU_BUILD_ID_ATTRIBUTE, labelValueOf, putAttribute } from './otlp-attributes.js';
import { checkSeriesLabels, LimitExceeded, type DecodeLimits } from './decode-limits.js';
import { binaryFor, FRAME_TYPE_ATTRIBUTE } from './otlp-frame-type.js';
import { checkOtlpRequestLimits } from './otlp-limits.js';
import { kilnTypeOf, PROFILE_NAME_ATTRIBUTE, type KilnTypeMapping } from './otlp-profile-type.js';
import { OtlpTables } from './otlp-tables.js';

export interface DecodeOtlpOptions {
  /** Time stamp (Unix ms) for profiles that carry no time at all; default: now. */
  readonly nowMs?: number;
  /** Labels merged into every decoded profile; they win over attributes. */
  readonly labels?: Labels;
  /** Decode-time limits, checked for the whole request (413 naming the limit) before anything is translated. */
  readonly limits?: DecodeLimits;
}

/** What one OTLP profile decoded to: Kiln profiles (one per series), or the reason it was refused. */
export interface OtlpProfileResult {
  /** Path of the OTLP profile in the request, e.g. `resource_profiles[3].scope_profiles[0].profiles[0]`. */
  readonly where: string;
  readonly profiles: Profile[];
  /** Why the profile was refused; its message is relative to `where` (e.g. `samples[2] refers to …`). */
  readonly error?: InputError;
}

/** One OTLP location resolved to strings once, reused by every series that contains it. */
interface Frame {
  readonly binary: string;
  readonly buildId: string;
  readonly address: bigint;
  readonly lines: readonly { name: string; systemName: string; file: string; line: number }[];
}

/**
 * The Kiln dictionary shared by every profile decoded from one request, as the request's own
 * dictionary is shared by its profiles: each OTLP location and stack is translated once, however
 * many processes and threads refer to it (the store de-duplicates symbols per dictionary too).
 */
class SharedSymbols {
  readonly builder = new DictionaryBuilder();
  private readonly localStack = new Map<number, number>();
  private readonly localLocation = new Map<number, number>();

  stack(otlpStack: number, frames: () => readonly Frame[], locationIndices: () => readonly number[]): number {
    let s = this.localStack.get(otlpStack);
    if (s === undefined) {
      const resolved = frames();
      const ids = locationIndices();
      s = this.builder.stack(resolved.map((f, i) => this.location(ids[i]!, f)));
      this.localStack.set(otlpStack, s);
    }
    return s;
  }

  private location(otlpLocation: number, f: Frame): number {
    let l = this.localLocation.get(otlpLocation);
    if (l === undefined) {
      const b = this.builder;
      const mapping = f.binary === '' && f.buildId === '' ? -1 : b.mapping(f.binary, f.buildId);
      const lines = f.lines.map((ln) => ({ function: b.function(ln.name, ln.systemName, ln.file), line: ln.line }));
      l = b.location(mapping, lines.length > 0 ? 0n : f.address, lines);
      this.localLocation.set(otlpLocation, l);
    }
    return l;
  }
}

/** The samples of one Kiln series. */
class SeriesBuilder {
  readonly stacks: number[] = [];
  readonly values: number[] = [];
  /** Samples linked to a span (OTLP sample links); created by the first one. */
  spans: SpanSamples | undefined;

  constructor(
    readonly symbols: SharedSymbols,
    readonly labels: Labels,
    readonly mapping: KilnTypeMapping,
    readonly timeMs: number,
    readonly durationNs: number,
  ) {}

  toProfile(): Profile {
    return {
      type: this.mapping.type,
      labels: this.labels,
      timeMs: this.timeMs,
      durationNs: this.durationNs,
      period: this.mapping.period,
      dict: this.symbols.builder.dict,
      stacks: this.stacks,
      values: this.values,
      ...(this.spans ? { spans: this.spans } : {}),
    };
  }
}

/**
 * Reads one request. Frames and stacks are resolved once per request (the dictionary is shared by
 * all its profiles); every table reference is bounds-checked, so a malformed reference is an
 * InputError naming it, at a cost linear in the request's size.
 */
class OtlpRequestDecoder {
  private readonly tables: OtlpTables;
  /** Resolved locations; a location shared by many stacks is read once. */
  private readonly frames = new Map<number, Frame>();

  constructor(
    req: ExportProfilesServiceRequest,
    private readonly opts: DecodeOtlpOptions,
  ) {
    this.tables = new OtlpTables(req.dictionary ?? create(ProfilesDictionarySchema));
  }

  private frame(li: number, where: string): Frame {
    let f = this.frames.get(li);
    if (f) return f;
    const t = this.tables;
    const loc = t.location(li, where);
    const here = `location_table[${li}]`;
    const mappingAt = `mapping_table[${loc?.mappingIndex ?? 0}]`;
    const mapping = loc ? t.mapping(loc.mappingIndex, here) : undefined;
    const fileName = mapping ? t.string(mapping.filenameStrindex, mappingAt) : '';
    const buildId = mapping ? t.findString(mapping.attributeIndices, GNU_BUILD_ID_ATTRIBUTE, mappingAt) : '';
    const frameType = loc ? t.findString(loc.attributeIndices, FRAME_TYPE_ATTRIBUTE, here) : '';
    const lines: Frame['lines'][number][] = [];
    for (const ln of loc?.lines ?? []) {
      const fn = t.function(ln.functionIndex, here);
      if (!fn) continue;
      const fnAt = `function_table[${ln.functionIndex}]`;
      const name = t.string(fn.nameStrindex, fnAt);
      const systemName = t.string(fn.systemNameStrindex, fnAt);
      if (name === '' && systemName === '') continue; // nameless: the frame shows as binary+address
      lines.push({ name: name || systemName, systemName: systemName === name ? '' : systemName, file: t.string(fn.filenameStrindex, fnAt), line: Number(ln.line) });
    }
    f = { binary: binaryFor(frameType, fileName), buildId, address: loc?.address ?? 0n, lines };
    this.frames.set(li, f);
    return f;
  }

  /** The frames of a stack; called once per stack index (SharedSymbols keeps what it became). */
  private stack(si: number, where: string): readonly Frame[] {
    return this.locationIndices(si, where).map((li) => this.frame(li, `stack_table[${si}]`));
  }

  private locationIndices(si: number, where: string): readonly number[] {
    return this.tables.stack(si, where)?.locationIndices ?? [];
  }

  /** One OTLP profile → one Kiln profile per distinct label set of its samples. */
  profile(p: OtlpProfile, scopeLabels: ReadonlyMap<string, string>, symbols: SharedSymbols): Profile[] {
    const t = this.tables;
    const profileLabels = new Map(scopeLabels);
    let name: string | undefined;
    for (const ai of p.attributeIndices) {
      const a = t.attribute(ai, 'attribute_indices');
      const key = t.attributeKey(a, 'attribute_indices');
      if (key === PROFILE_NAME_ATTRIBUTE) name = labelValueOf(a?.value);
      else putAttribute(profileLabels, key, a?.value);
    }
    const mapping = kilnTypeOf({
      sampleType: t.string(p.sampleType?.typeStrindex ?? 0, 'sample_type'),
      sampleUnit: t.string(p.sampleType?.unitStrindex ?? 0, 'sample_type'),
      periodType: t.string(p.periodType?.typeStrindex ?? 0, 'period_type'),
      periodUnit: t.string(p.periodType?.unitStrindex ?? 0, 'period_type'),
      period: Number(p.period),
      ...(name ? { name } : {}),
    });
    const timeMs = profileTimeMs(p, this.opts);
    const durationNs = Number(p.durationNano);

    // Samples of one profile usually repeat a handful of attribute sets: label each set once.
    const bySampleAttributes = new Map<string, SeriesBuilder>();
    const byLabels = new Map<string, SeriesBuilder>();
    p.samples.forEach((s, i) => {
      const here = `samples[${i}]`;
      const attrKey = s.attributeIndices.join(',');
      let target = bySampleAttributes.get(attrKey);
      if (!target) {
        const labels = new Map(profileLabels);
        for (const ai of s.attributeIndices) {
          const a = t.attribute(ai, here);
          putAttribute(labels, t.attributeKey(a, here), a?.value);
        }
        for (const l of this.opts.labels ?? []) labels.set(l.name, l.value);
        ensureServiceName(labels);
        const sorted = labelsFrom(labels);
        if (this.opts.limits) checkSeriesLabels(sorted, this.opts.limits);
        const key = sorted.map((l) => `${l.name}\0${l.value}`).join('\0');
        target = byLabels.get(key);
        if (!target) byLabels.set(key, (target = new SeriesBuilder(symbols, sorted, mapping, timeMs, durationNs)));
        bySampleAttributes.set(attrKey, target);
      }
      // Values pair with timestamps; timestamps alone count one event each (the specification's rule).
      let count = 0;
      if (s.values.length > 0) for (const v of s.values) count += Number(v);
      else count = s.timestampsUnixNano.length;
      const value = count * mapping.scale;
      if (value === 0) return;
      const stack = symbols.stack(s.stackIndex, () => this.stack(s.stackIndex, here), () => this.locationIndices(s.stackIndex, here));
      target.stacks.push(stack);
      target.values.push(value);
      const span = spanIdOf(t.link(s.linkIndex, here)?.spanId);
      if (span !== undefined) {
        const spans = (target.spans ??= { spanIds: [], stacks: [], values: [] });
        spans.spanIds.push(span);
        spans.stacks.push(stack);
        spans.values.push(value);
      }
    });
    return [...byLabels.values()].filter((b) => b.values.length > 0).map((b) => b.toProfile());
  }
}

/** A link's 8-byte span id as a 64-bit id (big-endian, the order its hex spelling reads); all zeros = no span. */
function spanIdOf(bytes: Uint8Array | undefined): bigint | undefined {
  if (!bytes || bytes.length !== 8) return undefined;
  let id = 0n;
  for (const b of bytes) id = (id << 8n) | BigInt(b);
  return id === 0n ? undefined : id;
}

function putAll(into: Map<string, string>, attrs: readonly KeyValue[]): void {
  for (const kv of attrs) putAttribute(into, kv.key, kv.value);
}

/** The profile's start: its own time, else its earliest sample time stamp, else now. */
function profileTimeMs(p: OtlpProfile, opts: DecodeOtlpOptions): number {
  if (p.timeUnixNano > 0n) return Number(p.timeUnixNano / 1_000_000n);
  let min: bigint | undefined;
  for (const s of p.samples) for (const ts of s.timestampsUnixNano) if (ts > 0n && (min === undefined || ts < min)) min = ts;
  return min !== undefined ? Number(min / 1_000_000n) : (opts.nowMs ?? Date.now());
}

/**
 * Decodes every OTLP profile of a request on its own, so a receiver can accept the good ones and
 * report the rest (OTLP partial success). A profile with a bad reference gets `error` and no profiles.
 */
export function decodeOtlpEach(req: ExportProfilesServiceRequest, opts: DecodeOtlpOptions = {}): OtlpProfileResult[] {
  if (opts.limits) checkOtlpRequestLimits(req, opts.limits);
  const decoder = new OtlpRequestDecoder(req, opts);
  const symbols = new SharedSymbols();
  const out: OtlpProfileResult[] = [];
  req.resourceProfiles.forEach((rp, ri) => {
    const resourceLabels = new Map<string, string>();
    putAll(resourceLabels, rp.resource?.attributes ?? []);
    rp.scopeProfiles.forEach((sp, si) => {
      const scopeLabels = new Map(resourceLabels);
      putAll(scopeLabels, sp.scope?.attributes ?? []);
      sp.profiles.forEach((p, pi) => {
        const where = `resource_profiles[${ri}].scope_profiles[${si}].profiles[${pi}]`;
        try {
          out.push({ where, profiles: decoder.profile(p, scopeLabels, symbols) });
        } catch (e) {
          if (!(e instanceof InputError) || e instanceof LimitExceeded) throw e;
          out.push({ where, profiles: [], error: e });
        }
      });
    });
  });
  return out;
}

/**
 * An OTLP ExportProfilesServiceRequest → Kiln profiles, one per (OTLP profile × label set); the
 * profiles of one request share a symbol dictionary.
 *
 * Labels come from resource, scope, profile and sample attributes (otlp-attributes.ts), so samples of
 * another thread or process land in another series. Types and value scaling follow
 * otlp-profile-type.ts; frame types travel in mapping names (otlp-frame-type.ts). The first bad
 * reference anywhere makes the whole request an InputError.
 */
export function decodeOtlp(req: ExportProfilesServiceRequest, opts: DecodeOtlpOptions = {}): Profile[] {
  const out: Profile[] = [];
  for (const r of decodeOtlpEach(req, opts)) {
    if (r.error) throw new InputError(`${r.where}: ${r.error.message}`, r.error.status);
    out.push(...r.profiles);
  }
  return out;
}
