import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { MetricFamily } from './exposition.js';
import { snappyEncode } from './snappy.js';

/**
 * Prometheus remote write (protocol 1.0): the same series /metrics serves, pushed to an endpoint for
 * users who do not scrape. The body is a `prometheus.WriteRequest` protobuf —
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 * — snappy-compressed (block format), with the headers the specification requires.
 */
export interface WriteSeries {
  /** Labels including `__name__`, sorted by name as the specification asks. */
  readonly labels: readonly (readonly [string, string])[];
  readonly value: number;
}

/** Prometheus' staleness marker: a NaN with this exact bit pattern says "this series ended". */
const STALE_NAN_BITS = 0x7ff0000000000002n;

export function staleNaN(): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, STALE_NAN_BITS);
  return view.getFloat64(0);
}

export function familiesToSeries(families: readonly MetricFamily[]): WriteSeries[] {
  const out: WriteSeries[] = [];
  for (const f of families) {
    for (const s of f.samples) {
      const labels: [string, string][] = [['__name__', f.name], ...s.labels.map((l) => [l.name, l.value] as [string, string])];
      labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      out.push({ labels, value: s.value });
    }
  }
  return out;
}

export function encodeWriteRequest(series: readonly WriteSeries[], timestampMs: number): Uint8Array {
  const w = new BinaryWriter();
  for (const s of series) {
    w.tag(1, WireType.LengthDelimited).fork();
    for (const [name, value] of s.labels) {
      w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name).tag(2, WireType.LengthDelimited).string(value).join();
    }
    // A double is written as its 8 bytes, so the stale NaN's bit pattern survives.
    w.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.Bit64).double(s.value).tag(2, WireType.Varint).int64(timestampMs).join();
    w.join();
  }
  return w.finish();
}

export async function remoteWrite(url: string, headers: Readonly<Record<string, string>>, series: readonly WriteSeries[], timestampMs: number, timeoutMs: number): Promise<void> {
  const body = snappyEncode(encodeWriteRequest(series, timestampMs));
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '0.1.0',
        'user-agent': 'kiln-remote-write',
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`remote write to ${url} failed: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`remote write to ${url} answered ${res.status}: ${(await res.text().catch(() => '')).slice(0, 300)}`);
  await res.arrayBuffer().catch(() => undefined);
}
