import { InputError, labelsFrom, sanitizeLabelName, spanIdFromHex } from '../model/index.js';
import type { Label, Labels, Profile, ProfileType, SpanSamples, SymbolDictionary } from '../model/index.js';
import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded } from './compression.js';
import { EmptyProfileError } from './empty-profile.js';
import type { DecodeOptions } from './options.js';
import { pprofProfileTypes } from './pprof-types.js';
import { PprofSymbols } from './pprof-symbols.js';
import type { PprofScan } from './pprof-wire.js';
import { asBuffer, scanPprof, scanString } from './pprof-wire.js';

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
  const scan = scanPprofPayload(data, opts);
  const text = asBuffer(scan.bytes);
  const strings = scan.stringStart.map((_, i) => scanString(scan, i, text));
  const str = stringLookup(strings.length, (i) => strings[i]!);
  const samples = new PprofSampleBuckets(scan, str, opts);
  const symbols = new PprofSymbols(scan, str);
  const s = scan.samples;
  for (let i = 0; i + 1 < s.locationStart.length; i++) {
    if (samples.keeps(i)) samples.add(i, symbols.stack(s.locationIds, s.locationStart[i]!, s.locationStart[i + 1]!));
  }
  return samples.profiles(symbols.dict);
}

/** Inflates (within the limit) and scans; readPprof checks every length, so a truncated body is an InputError. */
export function scanPprofPayload(data: Uint8Array, opts: DecodeOptions): PprofScan {
  if (data.length === 0) throw new InputError('empty pprof payload');
  return scanPprof(gunzipBounded(data, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED), opts.budget);
}

/** String i of the table, bounds-checked: an index past it is the sender's error. */
export function stringLookup(count: number, at: (i: number) => string): (i: number) => string {
  return (i) => {
    if (!(i >= 0 && i < count)) throw new InputError(`not a valid pprof profile: string index ${i} out of range (${count} strings)`);
    return at(i);
  };
}

/**
 * A bucket's row of each stack (a dictionary index: small and dense, one per distinct stack of the
 * request), or -1. A typed array by index, not a Map: the Map's hashing, growth and rehashing were ≈ 2 %
 * of a decode thread's pprof push (one lookup per sample). An index past what the dense array may
 * grow to goes to a Map. The array grows only while it stays within DENSITY times the rows the bucket
 * holds: a request of many label sets each naming one late stack must not cost an array as long as the
 * request's stack count per label set (memory stays linear in rows, whatever the indices).
 */
class StackRows {
  private dense = new Int32Array(64);
  private sparse: Map<number, number> | undefined;
  private count = 0;

  get(stack: number): number {
    if (stack >= 0 && stack < this.dense.length) return this.dense[stack]! - 1;
    return this.sparse?.get(stack) ?? -1;
  }

  set(stack: number, row: number): void {
    this.count++;
    if (stack >= this.dense.length && stack < MAX_DENSE_STACK && stack < DENSITY * (this.count + 64)) {
      const grown = new Int32Array(Math.max(stack + 1, 2 * this.dense.length));
      grown.set(this.dense);
      this.dense = grown;
      // Rows kept in the Map while the array was shorter move in, so each stack has one place.
      if (this.sparse) {
        for (const [k, v] of this.sparse) if (k >= 0 && k < grown.length) (grown[k] = v + 1), this.sparse.delete(k);
      }
    }
    if (stack >= 0 && stack < this.dense.length) this.dense[stack] = row + 1;
    else (this.sparse ??= new Map()).set(stack, row);
  }
}

/** Stack indices a StackRows keeps in its array (4 MiB at most); past it, in a Map. */
const MAX_DENSE_STACK = 1 << 20;
/** How sparse a StackRows' array may be: its length at most this many times (its rows + 64). */
const DENSITY = 8;

/** One bucket per label set; within it, parallel (stack, value) arrays per sample type. */
interface Bucket {
  labels: Labels;
  stacks: number[][];
  values: number[][];
  /** stack → row, per type: samples differing only in numeric labels collapse into one row. */
  rows: StackRows[];
  /** Per type, the samples that carry a `span_id` label (Pyroscope SDKs' span profiles); undefined until one does. */
  spans: SpanSamples[] | undefined;
}

/**
 * A pprof's samples sorted into profiles: one per (sample type × label set), rows summed per stack.
 * The stacks are whatever index the caller's dictionary gives them (decodePprof's SymbolDictionary,
 * or the ingest reducer's stacks by content id), so both decoders share these rules.
 */
export class PprofSampleBuckets {
  readonly types: ProfileType[];
  private readonly buckets = new Map<string, Bucket>();
  private readonly base: Labels;

  constructor(
    private readonly scan: PprofScan,
    private readonly str: (i: number) => string,
    opts: DecodeOptions,
  ) {
    if (scan.sampleTypes.length === 0) throw new InputError('not a valid pprof profile: no sample types');
    const pt = scan.periodType;
    this.types = pprofProfileTypes(
      scan.sampleTypes.map((t) => ({ sampleType: str(t.type), sampleUnit: str(t.unit), periodType: pt ? str(pt.type) : '', periodUnit: pt ? str(pt.unit) : '' })),
      opts.name,
    );
    this.base = opts.labels ?? [];
    this.timeMs = scan.timeNanos >= MIN_PLAUSIBLE_NS ? Math.floor(scan.timeNanos / 1e6) : (opts.timeMs ?? Date.now());
  }

  private readonly timeMs: number;

  /** False for a sample whose values are all 0 (dropped); throws when it has not one value per sample type. */
  keeps(i: number): boolean {
    const s = this.scan.samples;
    const from = s.valueStart[i]!;
    const to = s.valueStart[i + 1]!;
    const nTypes = this.types.length;
    if (to - from !== nTypes) throw new InputError(`not a valid pprof profile: a sample has ${to - from} values for ${nTypes} sample types`);
    for (let k = from; k < to; k++) if (s.values[k] !== 0) return true;
    return false;
  }

  /** Sample i, whose stack the caller resolved. */
  add(i: number, stack: number): void {
    const s = this.scan.samples;
    const labelFrom = s.labelStart[i]!;
    const labelTo = s.labelStart[i + 1]!;
    const [key, labels] = sampleLabels(s.labels, labelFrom, labelTo, this.str, this.base);
    let bucket = this.buckets.get(key);
    const nTypes = this.types.length;
    if (!bucket) {
      if (this.buckets.size >= MAX_LABEL_SETS) {
        throw new InputError(`pprof profile splits into more than ${MAX_LABEL_SETS} label sets; drop high-cardinality pprof labels`);
      }
      bucket = { labels, stacks: this.types.map(() => []), values: this.types.map(() => []), rows: this.types.map(() => new StackRows()), spans: undefined };
      this.buckets.set(key, bucket);
    }
    const span = labelTo > labelFrom ? spanIdOf(s.labels, labelFrom, labelTo, this.str) : undefined;
    if (span !== undefined) bucket.spans ??= this.types.map(() => ({ spanIds: [], stacks: [], values: [] }));
    const from = s.valueStart[i]!;
    for (let t = 0; t < nTypes; t++) {
      const v = s.values[from + t]!;
      if (v === 0) continue;
      if (!Number.isFinite(v)) throw new InputError('not a valid pprof profile: non-finite sample value');
      const row = bucket.rows[t]!.get(stack);
      if (row >= 0) {
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

  /** The profiles, over `dict` (whose stacks the added stack indices name). */
  profiles(dict: SymbolDictionary): Profile[] {
    const durationNs = plausibleDuration(this.scan.durationNanos, this.scan.timeNanos);
    const period = Math.max(0, this.scan.period);
    const out: Profile[] = [];
    for (const bucket of this.buckets.values()) {
      this.types.forEach((type: ProfileType, t) => {
        if (bucket.values[t]!.length === 0) return;
        const spans = bucket.spans?.[t];
        out.push({
          type,
          labels: bucket.labels,
          timeMs: this.timeMs,
          durationNs,
          period,
          dict,
          stacks: bucket.stacks[t]!,
          values: bucket.values[t]!,
          ...(spans && spans.spanIds.length > 0 ? { spans } : {}),
        });
      });
    }
    if (out.length === 0) throw new EmptyProfileError('pprof profile');
    return out;
  }
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
function sampleLabels(labels: readonly number[], from: number, to: number, str: (i: number) => string, base: Labels): [string, Labels] {
  if (to === from) return ['', base];
  let pairs: [string, string][] | undefined;
  for (let i = from; i < to; i += 2) {
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
function spanIdOf(labels: readonly number[], from: number, to: number, str: (i: number) => string): bigint | undefined {
  for (let i = from; i < to; i += 2) {
    if (str(labels[i]!) !== 'span_id') continue;
    return spanIdFromHex(str(labels[i + 1]!));
  }
  return undefined;
}

/** pprof label keys are free text (`thread name`); series label names must be Prometheus names. */
function labelName(key: string): string {
  return sanitizeLabelName(key) || '_';
}
