import { gzipSync } from 'node:zlib';
import { create, fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOtlpProtobuf, serializeOtlpJson, serializeOtlpProtobuf } from '../../src/formats/otlp.js';
import { ExportProfilesServiceRequestSchema, ProfilesService } from '../../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { ResourceSchema } from '../../src/gen/opentelemetry/proto/resource/v1/resource_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, querier } from './helpers.js';
import { answer, cpuTimes } from './limits-cpu.js';
import type { Answer } from './limits-cpu.js';
import { otlpRequest } from './limits-otlp-payloads.js';

/**
 * Issue 8: OTLP gets the decode-time limits pprof has (samples per profile, distinct stacks, frames per
 * request, stack depth, label sizes), each a 413/400 naming its config key, refused before the request
 * is translated (a binary body before it is even parsed), and nothing stored.
 */
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

async function storedTotal(): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{}', ...ALL_TIME });
  return Number(r.body.flamegraph?.total ?? 0);
}

function post(body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
  const type = typeof body === 'string' ? 'application/json' : 'application/x-protobuf';
  return fetch(`${srv.url}/v1development/profiles`, { method: 'POST', body: body as BodyInit, headers: { 'content-type': type, ...headers } });
}

/** A protobuf answer: `status`, and the message in the Status' bytes. */
function refusedWith(a: Answer, status: number, message: RegExp): void {
  expect(a.status, a.text.slice(0, 300)).toBe(status);
  expect(a.text).toMatch(message);
}

async function refused(res: Response, status: number, message: RegExp): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect((JSON.parse(text) as { message: string }).message).toMatch(message);
}

describe('OTLP decode-time limits', () => {
  let accepted = 0;

  it('a request within the limits is stored (the payload builder writes valid OTLP)', async () => {
    const res = await post(otlpRequest({ samples: 3, depth: 4096 }));
    expect(res.status, await res.clone().text()).toBe(200);
    accepted = await storedTotal();
    expect(accepted).toBe(3);
  });

  it('600 000 samples in one profile (gzipped OTLP/HTTP protobuf) → 413 naming max_samples_per_profile, in under a second', async () => {
    const body = gzipSync(otlpRequest({ samples: 600_000 }));
    const cpu = await cpuTimes(3, async () => answer(await post(body, { 'content-encoding': 'gzip', accept: 'application/json' })), (a) => {
      expect(a.type).toContain('protobuf');
      refusedWith(a, 413, /more than 500000 samples.*max_samples_per_profile/);
    });
    // Seconds of CPU time (limits-cpu.ts): the cheapest of three, as a first request also compiles the path.
    expect(Math.min(...cpu)).toBeLessThan(1000);
    expect(await storedTotal()).toBe(accepted);
  });

  it('the same as OTLP/JSON → 413 naming max_samples_per_profile', async () => {
    const json = serializeOtlpJson(parseOtlpProtobuf(otlpRequest({ samples: 500_001 })));
    await refused(await post(json), 413, /more than 500000 samples.*max_samples_per_profile/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('OTLP/JSON with 1 000 001 samples, or a string table of 1 000 001 entries → 413 from its text, before JSON.parse builds it', async () => {
    const samples = gzipSync(`{"resourceProfiles":[{"scopeProfiles":[{"profiles":[{"samples":[${'{"values":["1"]},'.repeat(1_000_000)}{}]}]}]}]}`);
    const cpu = await cpuTimes(3, async () => answer(await post(samples, { 'content-type': 'application/json', 'content-encoding': 'gzip' })), (a) => {
      expect(a.status, a.text.slice(0, 300)).toBe(413);
      expect((JSON.parse(a.text) as { message: string }).message).toMatch(/more than 1000000 samples.*max_samples_per_request/);
    });
    expect(Math.min(...cpu)).toBeLessThan(2000);
    // Strings holding brackets, quotes and keys' names are strings: only the table's own entries count.
    const strings = `{"dictionary":{"string_table":[${'"a{[\\"samples\\":[{",'.repeat(1_000_000)}""]}}`;
    await refused(await post(gzipSync(strings), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, /more than 1000000 entries.*max_symbols_per_request/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('the same over gRPC (the real Connect gRPC client) → ResourceExhausted naming max_samples_per_profile', async () => {
    const client = createClient(ProfilesService, createGrpcTransport({ baseUrl: srv.url }));
    const req = fromBinary(ExportProfilesServiceRequestSchema, otlpRequest({ samples: 500_001 }));
    const err = await client.export(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toMatch(/more than 500000 samples.*max_samples_per_profile/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('3 profiles of 333 334 samples (1 000 002 in the request) → 413 naming max_samples_per_request', async () => {
    const res = await post(gzipSync(otlpRequest({ samples: 333_334, profiles: 3 })), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).toMatch(/more than 1000000 samples.*max_samples_per_request/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('a dictionary of 1 000 001 (empty) locations → 413 naming max_symbols_per_request, before it is parsed', async () => {
    const body = gzipSync(otlpRequest({ samples: 1, extraLocations: 1_000_000 }));
    const cpu = await cpuTimes(3, async () => answer(await post(body, { 'content-encoding': 'gzip' })), (a) => refusedWith(a, 413, /symbol tables hold more than 1000000 entries.*max_symbols_per_request/));
    // Parsed, these take ≈ 190 MiB and 1.2–1.5 s of CPU on this machine before any later check (measured
    // with the wire check removed); refused from the wire, 30–70 ms at load 25–37.
    expect(Math.min(...cpu)).toBeLessThan(500);
    expect(await storedTotal()).toBe(accepted);
  });

  it('an Export message over 4 MiB over gRPC → ResourceExhausted before it is parsed; over Connect → 413 naming the cap and the HTTP route', async () => {
    const big = otlpRequest({ samples: 700_000 });
    expect(big.length).toBeGreaterThan(4 * 1024 * 1024);
    const client = createClient(ProfilesService, createGrpcTransport({ baseUrl: srv.url }));
    const err = await client.export(fromBinary(ExportProfilesServiceRequestSchema, big)).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toMatch(/4194304/);
    const res = await fetch(`${srv.url}/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`, { method: 'POST', body: big as BodyInit, headers: { 'content-type': 'application/proto' } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/more than 4194304: the largest OTLP message .* \/v1development\/profiles/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('a 5 000-frame stack → 413 naming max_stack_depth', async () => {
    await refused(await post(serializeOtlpJson(parseOtlpProtobuf(otlpRequest({ samples: 1, depth: 5000 })))), 413, /5000 frames deep.*max_stack_depth/);
    const res = await post(otlpRequest({ samples: 1, depth: 5000 }));
    expect(res.status).toBe(413);
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).toMatch(/5000 frames deep.*max_stack_depth/);
  });

  it('100 001 stacks in the stack table → 413 naming max_stacks_per_request', async () => {
    const res = await post(otlpRequest({ samples: 1, extraStacks: 100_000 }), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(413);
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).toMatch(/more than 100000 distinct stacks.*max_stacks_per_request/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('4 000 samples of a 4 096-frame stack (16.4 million frames) → 413 naming max_frames_per_request', async () => {
    const res = await post(otlpRequest({ samples: 2000, profiles: 2, depth: 4096 }));
    expect(res.status).toBe(413);
    expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).toMatch(/more than 16000000 frames.*max_frames_per_request/);
    expect(await storedTotal()).toBe(accepted);
  });

  it('a resource attribute value of 1 500 characters → 400 naming max_label_value_length', async () => {
    const req = parseOtlpProtobuf(otlpRequest({ samples: 1 }));
    req.resourceProfiles[0]!.resource = create(ResourceSchema, { attributes: [{ key: 'pod', value: { value: { case: 'stringValue', value: 'x'.repeat(1500) } } }] });
    await refused(await post(serializeOtlpJson(req)), 400, /1500 characters.*max_label_value_length/);
    const res = await post(serializeOtlpProtobuf(req));
    expect(res.status).toBe(400);
    expect(await storedTotal()).toBe(accepted);
  });
});
