import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlpProtobuf } from '../../src/formats/otlp.js';
import { olderLayoutSample } from '../../src/formats/otlp-layout.js';
import { captureFiles } from '../formats/otlp-support.js';
import { packed, protoMessage } from '../support/proto-writer.js';
import type { ProtoField } from '../support/proto-writer.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, querier } from './helpers.js';

/*
 * An OTLP profiles request written field by field, once in the layout Kiln implements (opentelemetry-proto
 * v1.10: Sample stack_index 1, attribute_indices 2, link_index 3, values 4, timestamps 5) and once in
 * v1.9's (stack_index 1, values 2, attribute_indices 3, link_index 4, timestamps 5). Everything above
 * the sample is the same in both.
 */

const NOW_NS = BigInt(Date.now() - 60_000) * 1_000_000n;

function request(service: string, samples: readonly ProtoField[][]): Uint8Array {
  const str = (s: string) => [5, 'string', s] as ProtoField;
  const dictionary = protoMessage([
    str(''), str('cpu'), str('nanoseconds'), str('main'), str('work'), str('service.name'),
    [3, 'bytes', protoMessage([])], [3, 'bytes', protoMessage([[1, 'varint', 3]])], [3, 'bytes', protoMessage([[1, 'varint', 4]])],
    [2, 'bytes', protoMessage([])],
    [2, 'bytes', protoMessage([[3, 'bytes', protoMessage([[1, 'varint', 1]])]])],
    [2, 'bytes', protoMessage([[3, 'bytes', protoMessage([[1, 'varint', 2]])]])],
    [7, 'bytes', protoMessage([])],
    // Leaf first: work ← main.
    [7, 'bytes', protoMessage([[1, 'bytes', packed([2, 1])]])],
    [6, 'bytes', protoMessage([])],
    [6, 'bytes', protoMessage([[1, 'varint', 5], [2, 'bytes', protoMessage([[1, 'string', service]])]])],
  ]);
  const profile = protoMessage([
    [1, 'bytes', protoMessage([[1, 'varint', 1], [2, 'varint', 2]])],
    ...samples.map((s) => [2, 'bytes', protoMessage(s)] as ProtoField),
    [3, 'fixed64', NOW_NS],
    [4, 'varint', 10_000_000_000],
  ]);
  const serviceName = protoMessage([[1, 'string', 'service.name'], [2, 'bytes', protoMessage([[1, 'string', service]])]]);
  const resource = protoMessage([[1, 'bytes', serviceName]]);
  return protoMessage([
    [1, 'bytes', protoMessage([[1, 'bytes', resource], [2, 'bytes', protoMessage([[2, 'bytes', profile]])]])],
    [2, 'bytes', dictionary],
  ]);
}

/** A sample of stack 1 with value `v` in the v1.10 layout, optionally with sample attribute 1. */
const current = (v: number, attrs = false): ProtoField[] => [[1, 'varint', 1], ...(attrs ? [[2, 'bytes', packed([1])] as ProtoField] : []), [4, 'bytes', packed([v])]];
/** The same sample in v1.9's layout. */
const v19 = (v: number, attrs = false): ProtoField[] => [[1, 'varint', 1], [2, 'bytes', packed([v])], ...(attrs ? [[3, 'bytes', packed([1])] as ProtoField] : [])];

describe('detecting the OTLP profiles layout of a binary request', () => {
  it('the current layout passes and decodes to its values; so does the eBPF profiler capture of the corpus', () => {
    const bytes = request('svc', [current(7_000_000), current(3_000_000, true)]);
    expect(olderLayoutSample(bytes)).toBeUndefined();
    const profiles = decodeOtlpProtobuf(bytes);
    expect(profiles.flatMap((p) => p.values).reduce((a, b) => a + b, 0)).toBe(10_000_000);
    expect(olderLayoutSample(captureFiles().bin)).toBeUndefined();
  });

  it('a v1.9 sample with only values, and one with values and attributes, are both named', () => {
    expect(olderLayoutSample(request('svc', [current(1), v19(7_000_000)]))).toEqual({
      where: 'resource_profiles[0].scope_profiles[0].profiles[0].samples[1]',
      why: 'has field 2 and neither field 4 (values) nor 5 (timestamps_unix_nano)',
    });
    expect(olderLayoutSample(request('svc', [v19(7_000_000, true)]))?.why).toMatch(/list in field 3/);
    expect(() => decodeOtlpProtobuf(request('svc', [v19(7_000_000)]))).toThrow(/v1\.10\+ layout .*values = 4/);
  });
});

describe('POST /v1development/profiles in the v1.9 layout', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('is refused with 400 naming the layout Kiln expects, and stores nothing', async () => {
    const res = await fetch(`${srv.url}/v1development/profiles`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(request('old-sender', [v19(7_000_000)])),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/older layout.*v1\.9.*opentelemetry-proto v1\.10\+ layout/);
    const series = await querier<{ labelsSet?: unknown[] }>(srv.url, 'Series', { matchers: ['{service_name="old-sender"}'], ...ALL_TIME });
    expect(series.body.labelsSet ?? []).toEqual([]);

    // The same profile in the current layout is stored.
    const ok = await fetch(`${srv.url}/v1development/profiles`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(request('new-sender', [current(7_000_000)])),
    });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const stored = await querier<{ labelsSet?: unknown[] }>(srv.url, 'Series', { matchers: ['{service_name="new-sender"}'], ...ALL_TIME });
    expect(stored.body.labelsSet?.length).toBe(1);
  });
});
