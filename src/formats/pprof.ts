import { Profile as PprofProfile } from 'pprof-format';
import { DictionaryBuilder, InputError, labelsFrom } from '../model/index.js';
import type { Label, Labels, Line, Profile, ProfileType } from '../model/index.js';
import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded } from './compression.js';
import { checkProtobufFraming } from './protobuf-wire.js';
import { EmptyProfileError } from './empty-profile.js';
import type { DecodeOptions } from './options.js';
import { pprofProfileTypes } from './pprof-types.js';

export { encodePprof, encodePprofGzip } from './pprof-encode.js';
export { EmptyProfileError } from './empty-profile.js';

/**
 * pprof labels that identify one request or span: as series labels each would make its own series
 * (unbounded cardinality), so they are dropped the way Pyroscope keeps them out of series labels.
 */
const DROPPED_LABELS = new Set(['span_id', 'span_name', 'trace_id', 'profile_id']);

/** A profile splitting into more label sets than this is rejected rather than stored as that many series. */
export const MAX_LABEL_SETS = 1000;

/** time_nanos before 2001 means "unset" or microseconds from old agents (Pyroscope treats them the same). */
const MIN_PLAUSIBLE_NS = 1e18;

type Numeric = number | bigint;
/** pprof values are int64; the decoder hands large or negative ones over as unsigned bigints. */
const num = (v: Numeric): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : v);

function parse(raw: Uint8Array): PprofProfile {
  checkProtobufFraming(raw, 'pprof profile');
  try {
    return PprofProfile.decode(raw);
  } catch (e) {
    throw new InputError(`not a valid pprof profile: ${(e as Error).message}`);
  }
}

/**
 * Decodes a pprof profile (raw or gzipped) into one Profile per (sample type × pprof label set).
 * Every decoded profile shares one symbol dictionary. Zero-value samples are dropped; numeric labels
 * are dropped (they are measurements, not series identity); opts.labels win over pprof labels.
 */
export function decodePprof(data: Uint8Array, opts: DecodeOptions = {}): Profile[] {
  if (data.length === 0) throw new InputError('empty pprof payload');
  const raw = gunzipBounded(data, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED);
  const pp = parse(raw);
  const strings = pp.stringTable.strings;
  const str = (i: Numeric): string => {
    const s = strings[num(i)];
    if (s === undefined) throw new InputError(`not a valid pprof profile: string index ${i} out of range (${strings.length} strings)`);
    return s;
  };
  if (pp.sampleType.length === 0) throw new InputError('not a valid pprof profile: no sample types');

  const types = pprofProfileTypes(
    pp.sampleType.map((t) => ({
      sampleType: str(t.type),
      sampleUnit: str(t.unit),
      periodType: pp.periodType ? str(pp.periodType.type) : '',
      periodUnit: pp.periodType ? str(pp.periodType.unit) : '',
    })),
    opts.name,
  );

  const b = new DictionaryBuilder();
  const locations = symbolTables(pp, str, b);

  // One bucket per label set; within it, parallel (stack, value) arrays per sample type.
  interface Bucket {
    labels: Labels;
    stacks: number[][];
    values: number[][];
    /** stack → row, per type: samples differing only in numeric labels collapse into one row. */
    rows: Map<number, number>[];
  }
  const buckets = new Map<string, Bucket>();
  const base = opts.labels ?? [];
  const nTypes = pp.sampleType.length;
  const stackCache = new Map<string, number>();

  for (const s of pp.sample) {
    if (s.value.length !== nTypes) {
      throw new InputError(`not a valid pprof profile: a sample has ${s.value.length} values for ${nTypes} sample types`);
    }
    let any = false;
    for (const v of s.value) if (num(v) !== 0) any = true;
    if (!any) continue;

    const [key, labels] = sampleLabels(s.label, str, base);
    let bucket = buckets.get(key);
    if (!bucket) {
      if (buckets.size >= MAX_LABEL_SETS) {
        throw new InputError(`pprof profile splits into more than ${MAX_LABEL_SETS} label sets; drop high-cardinality pprof labels`);
      }
      bucket = { labels, stacks: types.map(() => []), values: types.map(() => []), rows: types.map(() => new Map()) };
      buckets.set(key, bucket);
    }

    const idKey = s.locationId.join(',');
    let stack = stackCache.get(idKey);
    if (stack === undefined) {
      const locs = s.locationId.map((id) => {
        const l = locations.get(num(id));
        if (l === undefined) throw new InputError(`not a valid pprof profile: sample refers to unknown location ${id}`);
        return l;
      });
      stack = b.stack(locs);
      stackCache.set(idKey, stack);
    }

    for (let t = 0; t < nTypes; t++) {
      const v = num(s.value[t]!);
      if (v === 0) continue;
      if (!Number.isFinite(v)) throw new InputError('not a valid pprof profile: non-finite sample value');
      const row = bucket.rows[t]!.get(stack);
      if (row !== undefined) {
        bucket.values[t]![row]! += v;
      } else {
        bucket.rows[t]!.set(stack, bucket.values[t]!.length);
        bucket.stacks[t]!.push(stack);
        bucket.values[t]!.push(v);
      }
    }
  }

  const timeNs = num(pp.timeNanos);
  const timeMs = timeNs >= MIN_PLAUSIBLE_NS ? Math.floor(timeNs / 1e6) : (opts.timeMs ?? Date.now());
  const durationNs = Math.max(0, num(pp.durationNanos));
  const period = Math.max(0, num(pp.period));

  const out: Profile[] = [];
  for (const bucket of buckets.values()) {
    types.forEach((type: ProfileType, t) => {
      if (bucket.values[t]!.length === 0) return;
      out.push({ type, labels: bucket.labels, timeMs, durationNs, period, dict: b.dict, stacks: bucket.stacks[t]!, values: bucket.values[t]! });
    });
  }
  if (out.length === 0) throw new EmptyProfileError('pprof profile');
  return out;
}

/** Series labels of one sample: its string labels (sanitized names) under the request's labels. */
function sampleLabels(
  labels: readonly { key: Numeric; str: Numeric }[],
  str: (i: Numeric) => string,
  base: Labels,
): [string, Labels] {
  let pairs: [string, string][] | undefined;
  for (const l of labels) {
    if (num(l.str) === 0) continue; // numeric label (or empty string): not series identity
    const name = labelName(str(l.key));
    if (DROPPED_LABELS.has(name)) continue;
    (pairs ??= []).push([name, str(l.str)]);
  }
  if (!pairs) return ['', base];
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const key = pairs.map((p) => `${p[0]}\0${p[1]}`).join('\0');
  return [key, labelsFrom([...pairs, ...base.map((l: Label) => [l.name, l.value] as [string, string])])];
}

/** pprof label keys are free text (`thread name`); series label names must be Prometheus names. */
function labelName(key: string): string {
  const s = key.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s || '_';
}

/** Adds mappings, functions and locations to the builder; returns pprof location id → model index. */
function symbolTables(pp: PprofProfile, str: (i: Numeric) => string, b: DictionaryBuilder): Map<number, number> {
  const mappings = new Map<number, number>();
  for (const m of pp.mapping) mappings.set(num(m.id), b.mapping(str(m.filename), str(m.buildId)));
  const functions = new Map<number, number>();
  // Some .NET agents write every function with id 0, one function per location, in location order
  // (Pyroscope repairs them the same way): give function i the id of location i.
  const brokenIds = pp.function.length > 0 && pp.function.length === pp.location.length && pp.function.every((f) => num(f.id) === 0);
  if (brokenIds) pp.function.forEach((f, i) => (f.id = pp.location[i]!.id));
  for (const f of pp.function) {
    const name = str(f.name);
    const system = str(f.systemName);
    functions.set(num(f.id), b.function(name, system === name ? '' : system, str(f.filename)));
  }
  const locations = new Map<number, number>();
  for (const loc of pp.location) {
    const mid = num(loc.mappingId);
    const mapping = mid === 0 ? -1 : mappings.get(mid);
    if (mapping === undefined) throw new InputError(`not a valid pprof profile: location ${loc.id} refers to unknown mapping ${mid}`);
    const lines: Line[] = loc.line.map((ln) => {
      const f = functions.get(num(ln.functionId));
      if (f === undefined) throw new InputError(`not a valid pprof profile: location ${loc.id} refers to unknown function ${ln.functionId}`);
      return { function: f, line: num(ln.line) };
    });
    const address = BigInt.asUintN(64, BigInt(loc.address));
    locations.set(num(loc.id), b.location(mapping, address, lines));
  }
  return locations;
}
