import { BinaryReader } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { encodeWriteRequest, staleNaN } from '../../src/insight/remote-write.js';
import { snappyEncode } from '../../src/insight/snappy.js';

/**
 * The snappy block format read back by an independent decoder written here from the format
 * description (the real check is Prometheus decoding Kiln's remote write, in prometheus-scrape.test.ts).
 */
function snappyDecode(src: Uint8Array): Uint8Array {
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    const b = src[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  const out = new Uint8Array(length);
  let o = 0;
  while (pos < src.length) {
    const tag = src[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = 0;
        for (let b = 0; b < bytes; b++) n += src[pos++]! * 2 ** (8 * b);
      }
      n += 1;
      out.set(src.subarray(pos, pos + n), o);
      pos += n;
      o += n;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[pos++]!;
    } else if (kind === 2) {
      len = (tag >>> 2) + 1;
      offset = src[pos]! | (src[pos + 1]! << 8);
      pos += 2;
    } else throw new Error('4-byte offsets are never written by Kiln');
    if (offset === 0 || offset > o) throw new Error(`bad offset ${offset} at ${o}`);
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]!;
  }
  if (o !== length) throw new Error(`decoded ${o} bytes, preamble said ${length}`);
  return out;
}

describe('snappy', () => {
  it('round-trips random, repetitive and large inputs, and compresses what repeats', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    const inputs: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
      Uint8Array.from({ length: 5000 }, rnd),
      new Uint8Array(200_000).fill(42),
      new TextEncoder().encode('kiln_function_cpu_cores{service_name="checkout",function="encoding/json.Marshal",kind="self"} 0.73\n'.repeat(3000)),
      Uint8Array.from({ length: 150_000 }, (_, i) => (i % 1000 < 500 ? rnd() : i % 7)),
    ];
    for (const input of inputs) {
      const packed = snappyEncode(input);
      // Buffer.equals: a deep toEqual over 200 000 elements takes seconds.
      expect(Buffer.from(snappyDecode(packed)).equals(Buffer.from(input))).toBe(true);
    }
    expect(snappyEncode(inputs[3]!).length).toBeLessThan(inputs[3]!.length / 20);
    expect(snappyEncode(inputs[4]!).length).toBeLessThan(inputs[4]!.length / 10);
  });
});

describe('remote-write request', () => {
  it('encodes labels, value and timestamp, and keeps the stale marker bit-exact', () => {
    const bytes = encodeWriteRequest(
      [
        { labels: [['__name__', 'kiln_service_cpu_cores'], ['service_name', 'checkout']], value: 2.5 },
        { labels: [['__name__', 'gone']], value: staleNaN() },
      ],
      1_700_000_000_123,
    );
    const series: { labels: [string, string][]; value: number; bits: bigint; ts: bigint }[] = [];
    const r = new BinaryReader(bytes);
    while (r.pos < r.len) {
      const [field] = r.tag();
      expect(field).toBe(1);
      const ts = new BinaryReader(r.bytes());
      const one = { labels: [] as [string, string][], value: 0, bits: 0n, ts: 0n };
      while (ts.pos < ts.len) {
        const [f] = ts.tag();
        const inner = new BinaryReader(ts.bytes());
        if (f === 1) {
          inner.tag();
          const name = inner.string();
          inner.tag();
          one.labels.push([name, inner.string()]);
        } else {
          inner.tag();
          one.bits = BigInt(inner.fixed64());
          const view = new DataView(new ArrayBuffer(8));
          view.setBigUint64(0, one.bits, true);
          one.value = view.getFloat64(0, true);
          inner.tag();
          one.ts = inner.int64() as bigint;
        }
      }
      series.push(one);
    }
    expect(series[0]).toMatchObject({ labels: [['__name__', 'kiln_service_cpu_cores'], ['service_name', 'checkout']], value: 2.5 });
    expect(BigInt(series[0]!.ts)).toBe(1_700_000_000_123n);
    expect(series[1]!.bits).toBe(0x7ff0000000000002n);
  });
});
