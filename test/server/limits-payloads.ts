import { gzipSync } from 'node:zlib';

/**
 * Hand-built pprof payloads from issue 8's first paragraph: written as raw protobuf bytes so a test can
 * make 10 million samples without building 10 million objects first.
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

function field(no: number, body: number[]): number[] {
  return [(no << 3) | 2, ...varint(body.length), ...body];
}

/** Strings "", "cpu", "nanoseconds", then f1…fN; N functions and N locations (location i → function i). */
function header(functions: number): number[] {
  const strings = ['', 'cpu', 'nanoseconds'];
  const out: number[] = [];
  out.push(...field(1, [0x08, 1, 0x10, 2])); // sample_type cpu/nanoseconds
  out.push(...field(11, [0x08, 1, 0x10, 2])); // period_type cpu/nanoseconds
  for (const s of strings) out.push(...field(6, [...Buffer.from(s)]));
  for (let i = 1; i <= functions; i++) out.push(...field(6, [...Buffer.from(`f${i}`)]));
  for (let i = 1; i <= functions; i++) {
    out.push(...field(5, [0x08, ...varint(i), 0x10, ...varint(i + 2)])); // function id, name
    out.push(...field(4, [0x08, ...varint(i), ...field(4, [0x08, ...varint(i)])])); // location id, line{function}
  }
  return out;
}

/** `count` samples of one frame each (the 87 KB gzipped bomb of 10 million samples). */
export function oneFrameSamples(count: number): Buffer {
  const head = Buffer.from(header(1));
  const sample = Buffer.from(field(2, [0x08, 1, 0x10, 1]));
  const body = Buffer.alloc(head.length + sample.length * count);
  head.copy(body, 0);
  for (let i = 0; i < count; i++) sample.copy(body, head.length + i * sample.length);
  return gzipSync(body);
}

/** `side`³ distinct three-frame stacks, one sample each (side 100 → 1 million distinct stacks). */
export function distinctStacks(side: number): Buffer {
  const parts: Buffer[] = [Buffer.from(header(side))];
  for (let a = 1; a <= side; a++) {
    for (let b = 1; b <= side; b++) {
      const chunk: number[] = [];
      for (let c = 1; c <= side; c++) {
        chunk.push(...field(2, [...field(1, [...varint(a), ...varint(b), ...varint(c)]), 0x10, 1]));
      }
      parts.push(Buffer.from(chunk));
    }
  }
  return gzipSync(Buffer.concat(parts));
}

/** One sample whose stack is `depth` frames deep. */
export function deepStack(depth: number): Buffer {
  const ids: number[] = [];
  for (let i = 0; i < depth; i++) ids.push(...varint(1));
  return gzipSync(Buffer.from([...header(1), ...field(2, [...field(1, ids), 0x10, 1])]));
}

/** One one-frame sample whose value is the 10-byte varint of 2^63 (what int64 reads as negative). */
export function valueOf2Pow63(): Buffer {
  const value = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
  return Buffer.from([...header(1), ...field(2, [0x08, 1, 0x10, ...value])]);
}

/** One sample, time_nanos `timeNs` and duration_nanos `durationNs` as written (some converters put the end time there). */
export function withWindow(timeNs: number, durationNs: number): Buffer {
  return Buffer.from([...header(1), ...field(2, [0x08, 1, 0x10, 7]), 0x48, ...varint(timeNs), 0x50, ...varint(durationNs)]);
}

/** One one-frame sample and `count` extra (empty) string-table entries: symbol tables, not samples, carry the size. */
export function manyStrings(count: number): Buffer {
  const head = Buffer.from([...header(1), ...field(2, [0x08, 1, 0x10, 1])]);
  return gzipSync(Buffer.concat([head, Buffer.alloc(2 * count).fill(Buffer.from([(6 << 3) | 2, 0]))]));
}
