import { InputError, labelsFrom, sanitizeLabelName, spanIdFromHex } from '../model/index.js';
import type { Label, Labels, Profile, ProfileType, SpanSamples } from '../model/index.js';
import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded } from './compression.js';
import { EmptyProfileError } from './empty-profile.js';
import type { DecodeOptions } from './options.js';
import { pprofProfileTypes } from './pprof-types.js';
import { PprofSymbols } from './pprof-symbols.js';
import { readPprof } from './pprof-wire.js';

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

/**
 * Decodes a pprof profile (raw or gzipped) into one Profile per (sample type × pprof label set).
 * Every decoded profile shares one symbol dictionary. Zero-value samples are dropped; numeric labels
 * are dropped (they are measurements, not series identity); opts.labels win over pprof labels.
 */
export function decodePprof(data: Uint8Array, opts: DecodeOptions = {}): Profile[] {
  if (data.length === 0) throw new InputError('empty pprof payload');
  const raw = gunzipBounded(data, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED);
  // readPprof checks every length against its enclosing message: a truncated body is an InputError.
  const pp = readPprof(raw, opts.budget);
  const strings = pp.strings;
  const str = (i: number): string => {
    const s = strings[i];
    if (s === undefined) throw new InputError(`not a valid pprof profile: string index ${i} out of range (${strings.length} strings)`);
    return s;
  };
  if (pp.sampleTypes.length === 0) throw new InputError('not a valid pprof profile: no sample types');

  const types = pprofProfileTypes(
    pp.sampleTypes.map((t) => ({
      sampleType: str(t.type),
      sampleUnit: str(t.unit),
      periodType: pp.periodType ? str(pp.periodType.type) : '',
      periodUnit: pp.periodType ? str(pp.periodType.unit) : '',
    })),
    opts.name,
  );

  const symbols = new PprofSymbols(pp, str);

  // One bucket per label set; within it, parallel (stack, value) arrays per sample type.
  interface Bucket {
    labels: Labels;
    stacks: number[][];
    values: number[][];
    /** stack → row, per type: samples differing only in numeric labels collapse into one row. */
    rows: Map<number, number>[];
    /** Per type, the samples that carry a `span_id` label (Pyroscope SDKs' span profiles); undefined until one does. */
    spans: SpanSamples[] | undefined;
  }
  const buckets = new Map<string, Bucket>();
  const base = opts.labels ?? [];
  const nTypes = pp.sampleTypes.length;

  for (const s of pp.samples) {
    if (s.values.length !== nTypes) {
      throw new InputError(`not a valid pprof profile: a sample has ${s.values.length} values for ${nTypes} sample types`);
    }
    let any = false;
    for (const v of s.values) if (v !== 0) any = true;
    if (!any) continue;

    const [key, labels] = sampleLabels(s.labels, str, base);
    let bucket = buckets.get(key);
    if (!bucket) {
      if (buckets.size >= MAX_LABEL_SETS) {
        throw new InputError(`pprof profile splits into more than ${MAX_LABEL_SETS} label sets; drop high-cardinality pprof labels`);
      }
      bucket = { labels, stacks: types.map(() => []), values: types.map(() => []), rows: types.map(() => new Map()), spans: undefined };
      buckets.set(key, bucket);
    }

    const stack = symbols.stack(s.locationIds);
    const span = spanIdOf(s.labels, str);
    if (span !== undefined) bucket.spans ??= types.map(() => ({ spanIds: [], stacks: [], values: [] }));

    for (let t = 0; t < nTypes; t++) {
      const v = s.values[t]!;
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
      if (span !== undefined) {
        const spans = bucket.spans![t]!;
        spans.spanIds.push(span);
        spans.stacks.push(stack);
        spans.values.push(v);
      }
    }
  }

  const timeNs = pp.timeNanos;
  const timeMs = timeNs >= MIN_PLAUSIBLE_NS ? Math.floor(timeNs / 1e6) : (opts.timeMs ?? Date.now());
  const durationNs = plausibleDuration(pp.durationNanos, timeNs);
  const period = Math.max(0, pp.period);

  const out: Profile[] = [];
  for (const bucket of buckets.values()) {
    types.forEach((type: ProfileType, t) => {
      if (bucket.values[t]!.length === 0) return;
      const spans = bucket.spans?.[t];
      out.push({
        type,
        labels: bucket.labels,
        timeMs,
        durationNs,
        period,
        dict: symbols.dict,
        stacks: bucket.stacks[t]!,
        values: bucket.values[t]!,
        ...(spans && spans.spanIds.length > 0 ? { spans } : {}),
      });
    });
  }
  if (out.length === 0) throw new EmptyProfileError('pprof profile');
  return out;
}

/** Longest window a profile plausibly covers; past it the field holds something else. */
const MAX_DURATION_NS = 7 * 86_400e9;

/**
 * Some converters write an absolute timestamp (the end of the window) into duration_nanos. Pyroscope
 * stores such profiles, so Kiln does too, with the duration corrected: the end minus the start when that
 * is plausible, else unknown (0).
 */
function plausibleDuration(durationNs: number, timeNs: number): number {
  if (durationNs >= 0 && durationNs <= MAX_DURATION_NS) return durationNs;
  const end = durationNs - timeNs;
  return timeNs >= MIN_PLAUSIBLE_NS && end > 0 && end <= MAX_DURATION_NS ? end : 0;
}

/** Series labels of one sample: its string labels (sanitized names) under the request's labels. */
function sampleLabels(labels: readonly number[], str: (i: number) => string, base: Labels): [string, Labels] {
  if (labels.length === 0) return ['', base];
  let pairs: [string, string][] | undefined;
  for (let i = 0; i < labels.length; i += 2) {
    const name = labelName(str(labels[i]!));
    if (DROPPED_LABELS.has(name)) continue;
    (pairs ??= []).push([name, str(labels[i + 1]!)]);
  }
  if (!pairs) return ['', base];
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const key = pairs.map((p) => `${p[0]}\0${p[1]}`).join('\0');
  return [key, labelsFrom([...pairs, ...base.map((l: Label) => [l.name, l.value] as [string, string])])];
}

/**
 * The sample's `span_id` label as a 64-bit id: 16 hex digits, as Pyroscope SDKs write it (the same
 * spelling span_selector uses). Anything else is not a span id Tempo could ask for, and is ignored.
 */
function spanIdOf(labels: readonly number[], str: (i: number) => string): bigint | undefined {
  for (let i = 0; i < labels.length; i += 2) {
    if (str(labels[i]!) !== 'span_id') continue;
    return spanIdFromHex(str(labels[i + 1]!));
  }
  return undefined;
}

/** pprof label keys are free text (`thread name`); series label names must be Prometheus names. */
function labelName(key: string): string {
  return sanitizeLabelName(key) || '_';
}
