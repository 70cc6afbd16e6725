import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import { ProfileStoreService, WriteRawRequestSchema } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { PushRequestSchema, PusherService } from '../../src/gen/push/v1/push_pb.js';
import { QuerierService } from '../../src/gen/querier/v1/querier_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';

/**
 * Issue 2 "Bad input": every case answers a 4xx JSON `{error}` naming the problem, and nothing already
 * stored changes. A baseline profile is written first; after each bad request its flame graph must be
 * exactly as before and no new series may appear.
 */
let srv: TestServer;
const BOMB_CAP = 1024 * 1024;
let baseline: string;

async function snapshot(): Promise<string> {
  const fg = await querier(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{}', ...ALL_TIME });
  const series = await querier(srv.url, 'Series', { matchers: [], ...ALL_TIME });
  return JSON.stringify([fg.body, series.body]);
}

beforeAll(async () => {
  srv = await startTestServer({ limits: { maxDecompressedBytes: BOMB_CAP } });
  const res = await ingest(srv.url, { name: 'keep', format: 'folded', profile_type: CPU }, 'main;work 42\n');
  expect(res.status).toBe(200);
  baseline = await snapshot();
});
afterAll(async () => {
  await srv?.close();
});

async function expectRejected(res: Response, status: number | RegExp, message: RegExp): Promise<void> {
  const text = await res.text();
  if (typeof status === 'number') expect(res.status, text).toBe(status);
  else expect(String(res.status), text).toMatch(status);
  expect(res.headers.get('content-type') ?? '').toContain('application/json');
  expect((JSON.parse(text) as { error: string }).error).toMatch(message);
  expect(await snapshot(), 'stored data changed after a rejected request').toBe(baseline);
}

const pprofFile = () => readFileSync(path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof'));

describe('bad input over /ingest', () => {
  it('truncated pprof → 400', async () => {
    const data = pprofFile();
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'pprof' }, data.subarray(0, Math.floor(data.length / 2))), 400, /pprof|truncated/i);
    const raw = gunzipSync(data);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'pprof' }, raw.subarray(0, Math.floor(raw.length / 2))), 400, /pprof/i);
  });

  it('garbage pprof → 400', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'pprof' }, Buffer.from('this is not a profile at all \x00\x01\x02')), 400, /pprof/i);
  });

  it('wrong gzip (magic, then garbage) → 400', async () => {
    const bad = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('garbage garbage garbage')]);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'pprof' }, bad), 400, /gzip/i);
  });

  it('gzip bomb past the decompressed cap → 413, quickly and without storing', async () => {
    const bomb = gzipSync(Buffer.alloc(BOMB_CAP * 8));
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'pprof' }, bomb), 413, /exceeds/);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded' }, bomb, {}), 413, /exceeds/);
  });

  it('gzip Content-Encoding bomb → 413', async () => {
    const bomb = gzipSync(Buffer.alloc(BOMB_CAP * 8));
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded' }, bomb, { 'content-encoding': 'gzip' }), 413, /exceeds/);
  });

  it('empty body → 400', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded' }, ''), 400, /empty/);
  });

  it('negative and NaN values → 400 with the line', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded', profile_type: CPU }, 'a;b 5\na;c -3\n'), 400, /line 2|negative/);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded', profile_type: CPU }, 'a;b NaN\n'), 400, /line 1|NaN|number/i);
  });

  it('more labels than the limit → 400 naming the limit (10 000 do not fit in a URL: see push below)', async () => {
    const labels = Array.from({ length: 200 }, (_, i) => `l${i}=v`).join(',');
    await expectRejected(await ingest(srv.url, { name: `bad{${labels}}`, format: 'folded', profile_type: CPU }, 'a 1\n'), 400, /too many labels/);
  });

  it('label names Prometheus would reject → 400 naming the label', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad{1abc=x}', format: 'folded', profile_type: CPU }, 'a 1\n'), 400, /invalid label name "1abc"/);
    await expectRejected(await ingest(srv.url, { name: 'bad{a-b=x}', format: 'folded', profile_type: CPU }, 'a 1\n'), 400, /invalid label name "a-b"/);
  });

  it('unknown format → 415 listing the known ones', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'jfr2' }, 'x'), 415, /unknown format "jfr2".*pprof/);
  });

  it('missing name, until before from, bad profile_type, bad sampleRate → 400', async () => {
    await expectRejected(await ingest(srv.url, { format: 'folded' }, 'a 1\n'), 400, /name/);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded', from: '2000', until: '1000' }, 'a 1\n'), 400, /before/);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded', profile_type: 'cpu' }, 'a 1\n'), 400, /profile type/);
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded', sampleRate: '-5' }, 'a 1\n'), 400, /sampleRate/);
  });

  it('multipart without a profile part → 400', async () => {
    const form = new FormData();
    form.append('other', 'x');
    await expectRejected(await ingest(srv.url, { name: 'bad' }, form), 400, /profile/);
  });

  it('body over the size limit → 413', async () => {
    const small = await startTestServer({ limits: { maxBodyBytes: 1024 } });
    try {
      const res = await ingest(small.url, { name: 'big', format: 'folded' }, 'a;b 1\n'.repeat(1000));
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toMatch(/too large/i);
      const metrics = await (await fetch(`${small.url}/metrics`)).text();
      expect(metrics).toMatch(/^kiln_ingest_errors_total\{protocol="ingest",reason="input"\} 1$/m);
    } finally {
      await small.close();
    }
  });

  it('bad X-Scope-OrgID → 400', async () => {
    await expectRejected(await ingest(srv.url, { name: 'bad', format: 'folded' }, 'a 1\n', { 'X-Scope-OrgID': '../etc' }), 400, /tenant/);
  });
});

describe('bad input over the query APIs', () => {
  it('selectors that do not parse → 400 (HTTP) and InvalidArgument (Connect)', async () => {
    const res = await fetch(`${srv.url}/api/v1/top?${new URLSearchParams({ query: `${CPU}{service_name=}` })}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/selector|column/i);
    const r = await querier<{ code: string; message: string }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{a=~"("}', ...ALL_TIME });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('invalid_argument');
    expect(r.body.message).toMatch(/regex|\(/);
  });

  it('ranges with end < start → 400 / InvalidArgument', async () => {
    const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query: `${CPU}{}`, from: 'now', until: 'now-1h' })}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/ends before it starts/);
    const client = createClient(QuerierService, createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true }));
    const err = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{}', start: 2000n, end: 1000n }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });

  it('SelectSeries with step 0 → InvalidArgument', async () => {
    const r = await querier<{ code: string; message: string }>(srv.url, 'SelectSeries', { profile_typeID: CPU, label_selector: '{}', step: 0, ...ALL_TIME });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/step/);
  });

  it('/api/v1/diff with an unknown sort or a non-boolean normalize → 400 naming the parameter', async () => {
    const diff = { base_query: `${CPU}{}`, head_query: `${CPU}{}` };
    for (const [bad, name] of [[{ sort: 'name' }, /sort/], [{ normalize: 'yes' }, /normalize/]] as const) {
      const res = await fetch(`${srv.url}/api/v1/diff?${new URLSearchParams({ ...diff, ...bad })}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(name);
    }
  });

  it('unknown routes → 404 JSON', async () => {
    const res = await fetch(`${srv.url}/no/such/thing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/no route/);
  });
});

describe('bad input over push.v1 (gRPC)', () => {
  it('garbage raw_profile → InvalidArgument, and the good series of the same request is not written', async () => {
    const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: srv.url }));
    const good = { labels: [{ name: 'service_name', value: 'push-good' }], samples: [{ rawProfile: pprofFile(), ID: '' }] };
    const bad = { labels: [{ name: 'service_name', value: 'push-bad' }], samples: [{ rawProfile: new Uint8Array([1, 2, 3, 4, 5]), ID: '' }] };
    const err = await pusher.push({ series: [good, bad] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect(await snapshot()).toBe(baseline);
  });

  it('10 000 labels → InvalidArgument naming the limit', async () => {
    const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: srv.url }));
    const labels = Array.from({ length: 10_000 }, (_, i) => ({ name: `l${i}`, value: 'v' }));
    const err = await pusher.push({ series: [{ labels, samples: [{ rawProfile: pprofFile(), ID: '' }] }] }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/too many labels: 10000/);
    expect(await snapshot()).toBe(baseline);
  });

  it('invalid label name → InvalidArgument naming it', async () => {
    const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: srv.url }));
    const err = await pusher
      .push({ series: [{ labels: [{ name: 'bad label', value: 'x' }], samples: [{ rawProfile: pprofFile(), ID: '' }] }] })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/invalid label name "bad label"/);
    expect(await snapshot()).toBe(baseline);
  });

  /**
   * Bodies that are not a PushRequest at all, sent by the real Connect and gRPC clients: the message
   * carries hand-made unknown-field bytes, which the client writes verbatim after their tag.
   */
  const malformed: [string, WireType, Uint8Array, RegExp][] = [
    // 10 000 nested groups in an unknown field: past the parser's recursion limit.
    ['deeply nested', WireType.StartGroup, Uint8Array.from([...Array<number>(9_999).fill((9 << 3) | 3), ...Array<number>(10_000).fill((9 << 3) | 4)]), /recursion depth/],
    // A length of 1 000 000 bytes followed by 3.
    ['truncated', WireType.LengthDelimited, Uint8Array.from([0xc0, 0x84, 0x3d, 1, 2, 3]), /premature EOF|range|length/i],
  ];
  for (const [name, wireType, data, why] of malformed) {
    for (const protocol of ['Connect', 'gRPC'] as const) {
      it(`a ${name} protobuf body over ${protocol} → InvalidArgument naming it (was Internal, 500)`, async () => {
        const transport = protocol === 'gRPC' ? createGrpcTransport({ baseUrl: srv.url }) : createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true });
        const pusher = createClient(PusherService, transport);
        const req = create(PushRequestSchema, { series: [] });
        req.$unknown = [{ no: 9, wireType, data }];
        const err = await pusher.push(req).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code, (err as ConnectError).message).toBe(Code.InvalidArgument);
        expect((err as ConnectError).rawMessage).toMatch(/not a valid push\.v1\.PushRequest message/);
        expect((err as ConnectError).rawMessage).toMatch(why);
        expect(await snapshot()).toBe(baseline);
      });
    }
  }

  it('a deeply nested body on Parca WriteRaw over gRPC → InvalidArgument naming it', async () => {
    const store = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
    const req = create(WriteRawRequestSchema, {});
    req.$unknown = [{ no: 9, wireType: malformed[0]![1], data: malformed[0]![2] }];
    const err = await store.writeRaw(req).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/not a valid parca\.profilestore\.v1alpha1\.WriteRawRequest message: .*recursion depth/);
    expect(await snapshot()).toBe(baseline);
  });

  it('a malformed Connect body answers HTTP 400, not 500', async () => {
    const res = await fetch(`${srv.url}/push.v1.PusherService/Push`, { method: 'POST', headers: { 'content-type': 'application/proto' }, body: Buffer.from([0x0f, 0x01]) });
    expect(res.status).toBe(400);
    expect((await res.json()) as object).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/not a valid push\.v1\.PushRequest message: .*wire type 7/) as unknown });
  });
});
