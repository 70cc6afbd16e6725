import { protoMessage } from '../support/proto-writer.js';

/**
 * OTLP ExportProfilesServiceRequests written as raw protobuf bytes (field numbers of
 * opentelemetry-proto v1.10 profiles/v1development), so a test can send a million samples without
 * building a million objects first. Every stack is the one function `main`; cpu/nanoseconds samples
 * of value 1 each.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field around `body` (which may be large: no per-byte arrays). */
function ld(no: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(body.length)]), body]);
}

export interface OtlpShape {
  /** Samples in each profile. */
  readonly samples: number;
  /** Profiles in the request (each with `samples` samples). */
  readonly profiles?: number;
  /** Frames in the stack every sample refers to. */
  readonly depth?: number;
  /** Extra one-frame entries in the stack table, unused by the samples. */
  readonly extraStacks?: number;
  /** Extra empty entries in the location table, unused. */
  readonly extraLocations?: number;
}

export function otlpRequest({ samples, profiles = 1, depth = 1, extraStacks = 0, extraLocations = 0 }: OtlpShape): Buffer {
  const valueType = protoMessage([[1, 'varint', 1], [2, 'varint', 2]]); // cpu / nanoseconds
  const sample = ld(2, protoMessage([[1, 'varint', 1], [4, 'bytes', Uint8Array.from([1])]]));
  const head = Buffer.concat([ld(1, valueType), ld(5, valueType), Buffer.from([6 << 3, ...varint(10_000_000)])]);
  const profile = ld(2, Buffer.concat([head, Buffer.alloc(sample.length * samples).fill(sample)]));
  const scope = Buffer.concat(Array<Buffer>(profiles).fill(profile));
  const resource = ld(1, ld(2, scope));

  const strings = ['', 'cpu', 'nanoseconds', 'main'].map((s) => ld(5, Buffer.from(s)));
  const fn = [ld(3, new Uint8Array(0)), ld(3, protoMessage([[1, 'varint', 3]]))];
  const loc = [ld(2, new Uint8Array(0)), ld(2, ld(3, protoMessage([[1, 'varint', 1]])))];
  const stackOf = (frames: number) => ld(7, ld(1, Buffer.alloc(frames, 1)));
  const oneFrame = stackOf(1);
  const stacks = [ld(7, new Uint8Array(0)), stackOf(depth), Buffer.alloc(oneFrame.length * extraStacks).fill(oneFrame)];
  const emptyLocation = ld(2, new Uint8Array(0));
  loc.push(Buffer.alloc(emptyLocation.length * extraLocations).fill(emptyLocation));
  const dictionary = ld(2, Buffer.concat([...loc, ...fn, ...strings, ...stacks]));
  return Buffer.concat([resource, dictionary]);
}
