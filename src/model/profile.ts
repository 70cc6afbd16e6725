import type { Labels } from './labels.js';
import type { ProfileType } from './profile-type.js';
import type { SymbolDictionary } from './symbols.js';

/**
 * One profile of one series: a type, a label set, a time window and (stack, value) samples.
 * Samples are parallel arrays (index i = one row): `stacks[i]` indexes `dict.stacks`, `values[i]` is the
 * value in the type's sample unit. Codecs turn every wire format into this and back; nothing between the
 * edges knows which format a profile came in.
 */
export interface Profile {
  readonly type: ProfileType;
  readonly labels: Labels;
  /** Start of the window, Unix milliseconds. */
  readonly timeMs: number;
  /** Length of the window in nanoseconds (0 when unknown). */
  readonly durationNs: number;
  /** Sampling period in the type's period unit (e.g. 1e9/19 ns for 19 Hz CPU), 0 when unknown. */
  readonly period: number;
  readonly dict: SymbolDictionary;
  readonly stacks: number[];
  readonly values: number[];
  /**
   * The part of the samples recorded inside traced spans, by span (Pyroscope SDKs' `span_id` pprof
   * label, OTLP sample links): an index beside the samples, not more of them — every span sample's
   * value is also in `stacks`/`values`. Absent when no sample carries a span, so such profiles cost nothing.
   */
  readonly spans?: SpanSamples;
}

/** Parallel arrays: row i is `values[i]` of stack `stacks[i]` (a `dict.stacks` index) inside span `spanIds[i]`. */
export interface SpanSamples {
  /** 64-bit span ids (16 hex digits on the wire). */
  readonly spanIds: bigint[];
  readonly stacks: number[];
  readonly values: number[];
}

/** A span id as written on the wire by SDKs and Tempo (16 hex digits), or undefined for anything else. */
export function spanIdFromHex(text: string): bigint | undefined {
  return /^[0-9a-fA-F]{16}$/.test(text) ? BigInt(`0x${text}`) : undefined;
}

/** Sum of all sample values. */
export function profileTotal(p: Profile): number {
  let t = 0;
  for (const v of p.values) t += v;
  return t;
}
