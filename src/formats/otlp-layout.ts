import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { InputError } from '../model/errors.js';

/**
 * Which revision of the OTLP profiles wire layout a binary request was written in.
 *
 * `profiles/v1development` kept its package name while its messages were renumbered between releases
 * of opentelemetry-proto, so an older sender's request still parses, wrongly: a v1.9 `Sample`
 * (stack_index 1, values 2, attribute_indices 3, link_index 4, timestamps 5) read with the v1.10
 * numbers Kiln implements (stack_index 1, attribute_indices 2, link_index 3, values 4, timestamps 5)
 * has its values taken for attribute indices and no values at all, so it would be accepted and store
 * nothing. JSON names the fields, so only protobuf needs this check.
 *
 * The check walks the wire down to the samples (the dictionary and everything else is skipped by
 * length, so it costs one pass over the request's bytes and allocates nothing per sample). A sample
 * gives the older layout away by either of two things no v1.10 sender writes:
 * - field 3 length-delimited: v1.10's link_index is a single varint, the older layouts put a packed
 *   list there (v1.9's attribute_indices, earlier the values);
 * - field 2 without field 4 or 5: under v1.10 that is attribute indices with neither values nor
 *   timestamps, which the specification forbids ("MUST have at least one"); under v1.9 it is values.
 */

/** What Kiln reads, named the way a user finds it in the sender's release notes. */
export const OTLP_LAYOUT_EXPECTED =
  'Kiln reads OTLP profiles in the opentelemetry-proto v1.10+ layout (profiles/v1development Sample: stack_index = 1, attribute_indices = 2, link_index = 3, values = 4, timestamps_unix_nano = 5)';

// Field numbers on the path from the request to a sample; these did not move between the layouts.
const REQUEST_RESOURCE_PROFILES = 1;
const RESOURCE_SCOPE_PROFILES = 2;
const SCOPE_PROFILES = 2;
const PROFILE_SAMPLES = 2;

/** Throws an InputError naming the expected layout when a sample of `bytes` is in an older one. */
export function assertOtlpLayout(bytes: Uint8Array): void {
  const found = olderLayoutSample(bytes);
  if (found) {
    throw new InputError(
      `OTLP profiles request in an older layout: ${found.where} ${found.why}, as the opentelemetry-proto v1.9 (or earlier) layout writes a Sample (values = field 2). ${OTLP_LAYOUT_EXPECTED}: upgrade the sender to one built on opentelemetry-proto v1.10 or later`,
    );
  }
}

interface OlderSample {
  readonly where: string;
  readonly why: string;
}

/** The first sample written in an older layout, or undefined; a malformed request is left to the parser. */
export function olderLayoutSample(bytes: Uint8Array): OlderSample | undefined {
  try {
    return walk(bytes);
  } catch {
    // Truncated or not protobuf at all: the real parser gives the better message.
    return undefined;
  }
}

function walk(bytes: Uint8Array): OlderSample | undefined {
  let ri = 0;
  for (const rp of children(bytes, REQUEST_RESOURCE_PROFILES)) {
    let si = 0;
    for (const sp of children(rp, RESOURCE_SCOPE_PROFILES)) {
      let pi = 0;
      for (const profile of children(sp, SCOPE_PROFILES)) {
        let i = 0;
        for (const sample of children(profile, PROFILE_SAMPLES)) {
          const why = sampleLayoutProblem(sample);
          if (why) return { where: `resource_profiles[${ri}].scope_profiles[${si}].profiles[${pi}].samples[${i}]`, why };
          i++;
        }
        pi++;
      }
      si++;
    }
    ri++;
  }
  return undefined;
}

/** The embedded messages in field `field` of `message`, in order. */
function* children(message: Uint8Array, field: number): Generator<Uint8Array> {
  const r = new BinaryReader(message);
  while (r.pos < r.len) {
    const [no, wireType] = r.tag();
    if (no === field && wireType === WireType.LengthDelimited) yield r.bytes();
    else r.skip(wireType, no);
  }
}

function sampleLayoutProblem(sample: Uint8Array): string | undefined {
  const r = new BinaryReader(sample);
  let hasField2 = false;
  let hasValuesOrTimes = false;
  while (r.pos < r.len) {
    const [no, wireType] = r.tag();
    if (no === 3 && wireType === WireType.LengthDelimited) return 'has a list in field 3, where v1.10 has the single link_index';
    if (no === 2) hasField2 = true;
    if (no === 4 || no === 5) hasValuesOrTimes = true;
    r.skip(wireType, no);
  }
  return hasField2 && !hasValuesOrTimes ? 'has field 2 and neither field 4 (values) nor 5 (timestamps_unix_nano)' : undefined;
}
