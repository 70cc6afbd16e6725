import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';

/**
 * Caps a decoder checks while it reads, before anything large is built, so a hostile or broken payload
 * costs its sender a 413 and never the server its memory. Names are the `limits:` config keys, which the
 * error message quotes so the sender knows which one to ask for.
 */
export interface DecodeLimits {
  /** Samples in one pprof (before merging equal stacks). */
  readonly maxSamplesPerProfile: number;
  /** Samples across every profile of one request (the decoded objects of a sample are what memory follows). */
  readonly maxSamplesPerRequest: number;
  /** Distinct stacks across every profile of one request. */
  readonly maxStacksPerRequest: number;
  /** Frames summed over every sample's stack across one request. */
  readonly maxFramesPerRequest: number;
  /** Frames in one stack. */
  readonly maxStackDepth: number;
  /**
   * Entries of a request's symbol tables (OTLP's dictionary: locations, functions, mappings, strings,
   * attributes, links, stacks). A table entry is a few bytes on the wire and a JS object when parsed
   * (≈ 200 bytes: 7.6 MiB of locations took 383 MiB), so bytes alone do not bound memory.
   */
  readonly maxSymbolsPerRequest: number;
  readonly maxLabelsPerSeries: number;
  readonly maxLabelNameLength: number;
  readonly maxLabelValueLength: number;
}

/**
 * A configured limit broke: the whole request is refused (never accepted in part, as OTLP's partial
 * success would do for a profile that is merely malformed).
 */
export class LimitExceeded extends InputError {}

/** The 413 every decode-time limit answers: says what was exceeded and which config key raises it. */
export function limitExceeded(key: string, what: string, status: 400 | 413 = 413): LimitExceeded {
  return new LimitExceeded(`${what}: over the limit ${key} (raise it in the limits: section of the server config)`, status);
}

/** Label count and sizes of one series → 400 (a shape the sender must change, not a size to retry smaller). */
export function checkSeriesLabels(labels: Labels, limits: DecodeLimits): void {
  if (labels.length > limits.maxLabelsPerSeries) {
    throw limitExceeded('max_labels_per_series', `too many labels: ${labels.length} in one series, more than ${limits.maxLabelsPerSeries}`, 400);
  }
  for (const l of labels) {
    if (l.name.length > limits.maxLabelNameLength) {
      throw limitExceeded('max_label_name_length', `label name "${l.name.slice(0, 40)}…" is ${l.name.length} characters, more than ${limits.maxLabelNameLength}`, 400);
    }
    if (l.value.length > limits.maxLabelValueLength) {
      throw limitExceeded('max_label_value_length', `the value of label ${l.name.slice(0, 40)} is ${l.value.length} characters, more than ${limits.maxLabelValueLength}`, 400);
    }
  }
}

/** A pprof's symbol tables past max_symbols_per_request (each entry is a few bytes inflated and an object decoded). */
function tooManyPprofSymbols(max: number): LimitExceeded {
  return limitExceeded('max_symbols_per_request', `a profile's symbol tables hold more than ${max} entries`);
}

/**
 * One request's running totals against its DecodeLimits. Distinct stacks are counted by a 53-bit hash
 * of each profile's location-id sequence: ids are per profile, so each profile counts its own and the
 * request adds them up (an upper bound on the request's distinct stacks, which is what memory follows).
 */
export class DecodeBudget {
  private frames = 0;
  private samples = 0;
  private symbolCount = 0;
  private stacksBefore = 0;
  private seen = new Set<number>();
  /** Set by a decoder that counts each profile's distinct stacks itself (`tableStacks`) once it has them. */
  private stacksCountedByDecoder = false;

  constructor(readonly limits: DecodeLimits) {}

  /**
   * For a decoder that memoizes stacks anyway (server/pprof-ingest.ts): `sample` then checks samples,
   * depth and frames only, and the decoder reports each profile's distinct stacks through `tableStacks`.
   * Hashing every sample's location ids here as well cost ≈ 0.5 ms of an agent push.
   */
  countStacksInDecoder(): void {
    this.stacksCountedByDecoder = true;
  }

  /** Call before each profile of the request. */
  beginProfile(): void {
    this.stacksBefore += this.seen.size;
    this.seen = new Set();
  }

  /** Call once per sample as soon as its location ids, `locationIds[from .. to)`, are read. */
  sample(locationIds: readonly number[], from: number, to: number, sampleIndex: number): void {
    const depth = to - from;
    this.countSample(sampleIndex, depth);
    if (this.stacksCountedByDecoder) return;
    // Two independent 32-bit FNV-style hashes make the chance that two stacks collide negligible.
    let h1 = 0x811c9dc5;
    let h2 = depth;
    for (let i = from; i < to; i++) {
      const id = locationIds[i]! | 0;
      h1 = Math.imul(h1 ^ id, 0x01000193);
      h2 = Math.imul(h2 + id, 0x5bd1e995) ^ (h2 >>> 15);
    }
    const before = this.seen.size;
    this.seen.add((h1 >>> 0) * 0x200000 + (h2 & 0x1fffff));
    if (this.seen.size !== before) this.checkStacks();
  }

  /** The `sampleIndex`th sample of the profile, `depth` frames deep: samples, depth and frames checked. */
  countSample(sampleIndex: number, depth: number): void {
    const l = this.limits;
    if (sampleIndex >= l.maxSamplesPerProfile) throw limitExceeded('max_samples_per_profile', `a profile has more than ${l.maxSamplesPerProfile} samples`);
    if (++this.samples > l.maxSamplesPerRequest) throw limitExceeded('max_samples_per_request', `the request has more than ${l.maxSamplesPerRequest} samples`);
    this.stackDepth(depth);
    this.frames += depth;
    if (this.frames > l.maxFramesPerRequest) throw limitExceeded('max_frames_per_request', `the request's stacks hold more than ${l.maxFramesPerRequest} frames in all`);
  }

  stackDepth(depth: number): void {
    if (depth > this.limits.maxStackDepth) throw limitExceeded('max_stack_depth', `a stack is ${depth} frames deep, more than ${this.limits.maxStackDepth}`);
  }

  /** `count` more entries in the request's symbol tables. */
  symbols(count: number): void {
    this.symbolCount += count;
    const max = this.limits.maxSymbolsPerRequest;
    if (this.symbolCount > max) throw limitExceeded('max_symbols_per_request', `the request's symbol tables hold more than ${max} entries`);
  }

  /** One pprof's symbol-table entries (mappings, locations, functions, strings): PprofPrescan's cap, for a body it did not scan. */
  pprofSymbols(count: number): void {
    if (count > this.limits.maxSymbolsPerRequest) throw tooManyPprofSymbols(this.limits.maxSymbolsPerRequest);
  }

  /** How many more distinct stacks the request may hold. */
  stacksLeft(): number {
    return this.limits.maxStacksPerRequest - this.stacksBefore - this.seen.size;
  }

  /** Stacks that come as a table of distinct ones (OTLP's stack_table): `count` more of them. */
  tableStacks(count: number): void {
    this.stacksBefore += count;
    this.checkStacks();
  }

  private checkStacks(): void {
    const max = this.limits.maxStacksPerRequest;
    if (this.stacksBefore + this.seen.size > max) throw limitExceeded('max_stacks_per_request', `the request has more than ${max} distinct stacks`);
  }
}

const TAG = 0;
const VARINT = 1;
const LENGTH = 2;
const SKIP = 3;
/** Something it cannot follow: left to the full decoder, which reports it properly. */
const LOST = 4;

/**
 * Scans a pprof's bytes chunk by chunk as they are inflated, counting top-level `sample` fields and,
 * past the first `maxStacks` samples, hashing each one's bytes, so a gzipped pprof is refused after
 * inflating only as much as its first `maxSamples` samples or about twice `maxStacks` distinct ones
 * take (an 87 KB gzip holds 10 million samples), at a few nanoseconds a byte instead of the full
 * decoder's microseconds a sample. A sample's bytes are its stack, values and labels: producers (Go,
 * Java, Node, Pyroscope SDKs) merge samples of one stack and label set, so distinct samples are
 * distinct stacks; the decoder's DecodeBudget counts exactly.
 *
 * Why hashing waits: a pprof of at most `maxStacks` samples cannot break the stack limit, and an agent's
 * push holds a few hundred to a few thousand, so hashing every sample's bytes (≈ 0.6 ms of an agent
 * push's ≈ 16 ms of server CPU) bought nothing for them. Distinct samples among those hashed are a lower
 * bound of the profile's distinct stacks, so this never refuses what the decoder would take; it refuses
 * a stack bomb once the hashed samples alone exceed the limit (at most 2 · maxStacks + 1 samples in).
 * Entries of the symbol tables (mappings, locations, functions, strings) are counted against
 * `maxSymbols` too, per pprof: each is a few bytes inflated and an object once decoded.
 */
export class PprofPrescan {
  private state = TAG;
  private acc = 0;
  private shift = 0;
  private skip = 0;
  private field = 0;
  private samples = 0;
  /** Entries of the symbol tables: mapping (3), location (4), function (5), string_table (6). */
  private symbols = 0;
  /** True while skipping over a sample's bytes (which are hashed). */
  private hashing = false;
  private h1 = 0;
  private h2 = 0;
  private readonly stacks = new Set<number>();

  constructor(
    private readonly maxSamples: number,
    private readonly maxStacks: number,
    private readonly maxSymbols = Infinity,
  ) {}

  push(chunk: Uint8Array): void {
    // The state lives in locals inside the loop (a few nanoseconds a byte), written back at the end.
    let { state, acc, shift, skip, field, hashing, h1, h2 } = this;
    const n = chunk.length;
    let i = 0;
    try {
      while (i < n && state !== LOST) {
        if (state === SKIP) {
          const k = Math.min(skip, n - i);
          if (hashing) {
            for (let j = i; j < i + k; j++) {
              const c = chunk[j]!;
              h1 = Math.imul(h1 ^ c, 0x01000193);
              h2 = Math.imul(h2 + c + 1, 0x5bd1e995) ^ (h2 >>> 13);
            }
          }
          i += k;
          skip -= k;
          if (skip === 0) {
            state = TAG;
            if (hashing) this.endSample(h1, h2);
            hashing = false;
          }
          continue;
        }
        const b = chunk[i++]!;
        acc += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b & 0x80) {
          if (shift > 63) state = LOST;
          continue;
        }
        const v = acc;
        acc = 0;
        shift = 0;
        if (state === TAG) {
          const wire = v % 8;
          field = Math.floor(v / 8);
          if (wire === 0) state = VARINT;
          else if (wire === 2) state = LENGTH;
          else if (wire === 1 || wire === 5) {
            skip = wire === 1 ? 8 : 4;
            state = SKIP;
          } else state = LOST;
        } else if (state === VARINT) {
          state = TAG;
        } else {
          const sample = field === 2;
          if (sample && ++this.samples > this.maxSamples) {
            throw limitExceeded('max_samples_per_profile', `a profile has more than ${this.maxSamples} samples`);
          }
          hashing = sample && this.samples > this.maxStacks;
          if (field >= 3 && field <= 6 && ++this.symbols > this.maxSymbols) throw tooManyPprofSymbols(this.maxSymbols);
          h1 = 0x811c9dc5;
          h2 = 0;
          skip = v;
          state = SKIP;
          if (v === 0) {
            state = TAG;
            if (hashing) this.endSample(h1, h2);
            hashing = false;
          }
        }
      }
    } finally {
      Object.assign(this, { state, acc, shift, skip, field, hashing, h1, h2 });
    }
  }

  private endSample(h1: number, h2: number): void {
    const before = this.stacks.size;
    // A 31-bit key stays a small integer (no allocation per sample); at 100 000 stacks about 2 pairs
    // collide, which undercounts by that many: harmless for a limit.
    this.stacks.add((h1 ^ Math.imul(h2, 0x9e3779b1)) >> 1);
    if (this.stacks.size !== before && this.stacks.size > this.maxStacks) {
      throw limitExceeded('max_stacks_per_request', `the request has more than ${this.maxStacks} distinct stacks`);
    }
  }
}
