import { gzipSync } from 'node:zlib';
import { fromBinary, fromJsonString, toBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeOtlp, parseOtlpJson } from '../../src/formats/otlp.js';
import {
  ExportProfilesServiceRequestSchema,
  ExportProfilesServiceResponseSchema,
  ProfilesService,
} from '../../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { captureFiles, independentTotals } from '../formats/otlp-support.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, flameTotal, ingest, querier } from './helpers.js';
import type { JsonFlameGraph } from './helpers.js';

const OFF_CPU = 'off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds';
const PATH = '/v1development/profiles';
/** Small enough that a modest gzip bomb trips it, big enough for the capture (~105 KB). */
const MAX_DECOMPRESSED = 1024 * 1024;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ limits: { maxDecompressedBytes: MAX_DECOMPRESSED } });
});
afterAll(async () => {
  await srv?.close();
});

const { bin, json } = captureFiles();
const expected = independentTotals(json);

function post(body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${srv.url}${PATH}`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers });
}

async function total(tenant: string, type: string, selector = '{}'): Promise<number> {
  const r = await querier<JsonFlameGraph>(srv.url, 'SelectMergeStacktraces', { profile_typeID: type, label_selector: selector, ...ALL_TIME }, { 'X-Scope-OrgID': tenant });
  expect(r.status).toBe(200);
  return flameTotal(r.body);
}

async function labelValues(tenant: string, name: string): Promise<string[]> {
  const r = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name, ...ALL_TIME }, { 'X-Scope-OrgID': tenant });
  expect(r.status).toBe(200);
  return r.body.names ?? [];
}

async function folded(tenant: string, query: string): Promise<string> {
  const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query, from: '0', until: 'now+1d', format: 'folded' })}`, {
    headers: { 'X-Scope-OrgID': tenant },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.text();
}

/** What a user checks after sending the capture: every process, CPU and off-CPU time, kernel stacks. */
async function expectCaptureStored(tenant: string): Promise<void> {
  expect(await total(tenant, CPU)).toBe(expected.cpuNs);
  expect(await total(tenant, OFF_CPU)).toBe(expected.offCpuNs);
  expect(new Set(await labelValues(tenant, 'process_pid'))).toEqual(expected.pids);
  expect(await labelValues(tenant, 'service_name')).toEqual(
    expect.arrayContaining(['unknown_service', 'unknown_service:containerd', 'unknown_service:kwin_wayland']),
  );
  // pid 66 is a migration kthread: its off-CPU stack is a kernel stack rooted at ret_from_fork_asm.
  const kthread = await folded(tenant, `${OFF_CPU}{process_pid="66"}`);
  expect(kthread).toMatch(/^ret_from_fork_asm;ret_from_fork;kthread;smpboot_thread_fn;.*finish_task_switch\.isra\.0 \d+$/m);
}

/** google.rpc.Status (code = 1, message = 2) from a protobuf error body. */
function readStatus(bytes: Uint8Array): { code: number; message: string } {
  const r = new BinaryReader(bytes);
  const out = { code: 0, message: '' };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) out.code = r.int32();
    else if (field === 2) out.message = r.string();
    else r.skip(wire);
  }
  return out;
}

describe('OTLP/HTTP POST /v1development/profiles', () => {
  it('ingests the eBPF profiler capture as protobuf; the query API shows it', async () => {
    const res = await post(bin, { 'content-type': 'application/x-protobuf', 'X-Scope-OrgID': 'otlp-pb' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    const reply = fromBinary(ExportProfilesServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(reply.partialSuccess).toBeUndefined();
    await expectCaptureStored('otlp-pb');
  });

  it('ingests the JSON sibling as application/json with the same result', async () => {
    const res = await post(json, { 'content-type': 'application/json', 'X-Scope-OrgID': 'otlp-json' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({});
    await expectCaptureStored('otlp-json');
  });

  it('accepts a gzip Content-Encoding body', async () => {
    const res = await post(gzipSync(bin), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', 'X-Scope-OrgID': 'otlp-gz' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await total('otlp-gz', CPU)).toBe(expected.cpuNs);
  });

  it('stores the good profiles of a partly bad request and reports the rest as partial_success', async () => {
    const req = encodeOtlp([cpuProfile('good'), cpuProfile('bad')]);
    req.resourceProfiles[1]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.stackIndex = 999;
    const res = await post(toBinary(ExportProfilesServiceRequestSchema, req), { 'content-type': 'application/x-protobuf', 'X-Scope-OrgID': 'otlp-partial' });
    expect(res.status).toBe(200);
    const reply = fromBinary(ExportProfilesServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(reply.partialSuccess?.rejectedProfiles).toBe(1n);
    expect(reply.partialSuccess?.errorMessage).toMatch(/resource_profiles\[1\].*stack_table\[999\]/);
    expect(await labelValues('otlp-partial', 'service_name')).toEqual(['good']);
  });
});

describe('POST /ingest?format=otlp (what `kiln ingest capture.pb.bin --format otlp` sends)', () => {
  it('stores the capture under the given service name, one series per process and thread', async () => {
    const res = await ingest(srv.url, { name: 'ebpf-capture', format: 'otlp' }, Buffer.from(bin), { 'content-type': 'application/octet-stream', 'X-Scope-OrgID': 'otlp-ingest' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await total('otlp-ingest', CPU, '{service_name="ebpf-capture"}')).toBe(expected.cpuNs);
    expect(new Set(await labelValues('otlp-ingest', 'process_pid'))).toEqual(expected.pids);
  });
});

describe('OTLP/HTTP refuses bad input with a 4xx and stores nothing', () => {
  const tenant = 'otlp-bad';
  const h = (extra: Record<string, string>) => ({ 'X-Scope-OrgID': tenant, ...extra });

  it('garbage protobuf → 400 with a google.rpc.Status body', async () => {
    const res = await post(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]), h({ 'content-type': 'application/x-protobuf' }));
    expect(res.status).toBe(400);
    const status = readStatus(new Uint8Array(await res.arrayBuffer()));
    expect(status.code).toBe(3); // INVALID_ARGUMENT
    expect(status.message).toMatch(/not an OTLP ExportProfilesServiceRequest/);
  });

  it('invalid JSON → 400 with a JSON Status body', async () => {
    const res = await post('{"resourceProfiles": [', h({ 'content-type': 'application/json' }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 3, message: expect.stringMatching(/not valid JSON/) });
  });

  it('a wrong content type → 415', async () => {
    const res = await post(bin, h({ 'content-type': 'text/plain' }));
    expect(res.status).toBe(415);
    expect((await res.json()).message).toMatch(/application\/x-protobuf or application\/json/);
  });

  it('an unsupported Content-Encoding → 415', async () => {
    const res = await post(bin, h({ 'content-type': 'application/x-protobuf', 'content-encoding': 'br' }));
    expect(res.status).toBe(415);
  });

  it('a gzip bomb → 413 without inflating it all', async () => {
    const bomb = gzipSync(Buffer.alloc(16 * MAX_DECOMPRESSED));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await post(bomb, h({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }));
    expect(res.status).toBe(413);
  });

  it('Content-Encoding gzip on a body that is not gzip → 400', async () => {
    const res = await post(bin, h({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }));
    expect(res.status).toBe(400);
  });

  it('a request where every profile is bad → 400', async () => {
    const req = encodeOtlp([cpuProfile('never')]);
    req.dictionary!.stackTable[1]!.locationIndices.push(12345);
    const res = await post(toBinary(ExportProfilesServiceRequestSchema, req), h({ 'content-type': 'application/x-protobuf' }));
    expect(res.status).toBe(400);
    expect(readStatus(new Uint8Array(await res.arrayBuffer())).message).toMatch(/location_table\[12345\]/);
  });

  it('…and none of them stored anything', async () => {
    expect(await labelValues(tenant, 'service_name')).toEqual([]);
  });
});

describe('OTLP gRPC ProfilesService/Export', () => {
  const client = () => createClient(ProfilesService, createGrpcTransport({ baseUrl: srv.url }));

  it('ingests the capture over gRPC (HTTP/2) with the same result', async () => {
    const reply = await client().export(parseOtlpJson(json), { headers: { 'X-Scope-OrgID': 'otlp-grpc' } });
    expect(reply.partialSuccess).toBeUndefined();
    await expectCaptureStored('otlp-grpc');
  });

  it('answers INVALID_ARGUMENT for a bad request and stores nothing', async () => {
    const req = fromJsonString(ExportProfilesServiceRequestSchema, JSON.stringify({ resourceProfiles: [{ scopeProfiles: [{ profiles: [{ samples: [{ stackIndex: 7, values: ['1'] }] }] }] }] }));
    const err = await client().export(req, { headers: { 'X-Scope-OrgID': 'otlp-grpc-bad' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/stack_table\[7\]/);
    expect(await labelValues('otlp-grpc-bad', 'service_name')).toEqual([]);
  });
});

function cpuProfile(service: string): Profile {
  const b = new DictionaryBuilder();
  const main = b.frame('main');
  const work = b.frame('work');
  return {
    type: CPU_TYPE,
    labels: labelsFrom({ service_name: service }),
    timeMs: Date.now() - 60_000,
    durationNs: 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks: [b.stack([work, main])],
    values: [5e9],
  };
}
