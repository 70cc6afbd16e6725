import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MessagePort, type Transferable as WorkerTransferable } from 'node:worker_threads';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteRawRequestSchema } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import type { DecodeTask } from '../../src/server/decode-tasks.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { ALL_TIME, pprofSum, querier } from './helpers.js';

/**
 * Parca's WriteRaw hands its body to the decode thread the way push.v1 does (push.ts, ownsBody): an
 * uncompressed Connect request is read into a buffer of its own, which moves instead of being copied;
 * a gRPC-web request's message lies inside its envelope, so it is copied. Either way the same profile
 * is stored.
 */

const FILE = () => path.join(requireTestdata('pprof'), 'parca-fib.pb.gz');
const TYPE = 'parca_agent_cpu:samples:count:cpu:nanoseconds';
let srv: TestServer;
/** Per WriteRaw task posted to a decode thread: how many of its bodies' buffers were moved rather than copied. */
const moved: number[] = [];
const post = MessagePort.prototype.postMessage;

beforeAll(async () => {
  srv = await startTestServer();
  // Piscina posts each task on a MessagePort with its transfer list.
  MessagePort.prototype.postMessage = function (this: MessagePort, value: unknown, transfer?: unknown) {
    const task = (value as { task?: DecodeTask } | null)?.task;
    if (task?.kind === 'pprof-series') {
      const list = (Array.isArray(transfer) ? transfer : ((transfer as { transfer?: unknown[] } | undefined)?.transfer ?? [])) as unknown[];
      moved.push(task.series.flatMap((s) => s.rawProfiles).filter((raw) => list.includes(raw.buffer)).length);
    }
    return post.call(this, value, transfer as readonly WorkerTransferable[]);
  };
});
afterAll(async () => {
  MessagePort.prototype.postMessage = post;
  await srv?.close();
});

function writeRaw(job: string): Uint8Array {
  return toBinary(
    WriteRawRequestSchema,
    create(WriteRawRequestSchema, {
      series: [{ labels: { labels: [{ name: '__name__', value: 'parca_agent_cpu' }, { name: 'job', value: job }] }, samples: [{ rawProfile: readFileSync(FILE()) }] }],
    }),
  );
}

async function postWriteRaw(contentType: string, body: Uint8Array): Promise<Response> {
  return fetch(`${srv.url}/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw`, { method: 'POST', body: body as BodyInit, headers: { 'content-type': contentType } });
}

async function total(job: string): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: TYPE, label_selector: `{job="${job}"}`, ...ALL_TIME });
  return Number(r.body.flamegraph?.total ?? 0);
}

describe('Parca WriteRaw bodies handed to the decode thread', () => {
  it('moves an uncompressed Connect body, copies a gRPC-web one, and stores the same profile either way', async () => {
    const res = await postWriteRaw('application/proto', writeRaw('moved'));
    expect(res.status).toBe(200);
    expect(moved.splice(0)).toEqual([1]);

    const msg = writeRaw('copied');
    const envelope = new Uint8Array(5 + msg.length);
    new DataView(envelope.buffer).setUint32(1, msg.length);
    envelope.set(msg, 5);
    const web = await postWriteRaw('application/grpc-web+proto', envelope);
    expect(web.status).toBe(200);
    expect(web.headers.get('grpc-status') ?? '0').toBe('0');
    expect(moved.splice(0)).toEqual([0]);

    const expected = pprofSum(FILE(), 'samples');
    expect(expected).toBeGreaterThan(0);
    expect(await total('moved')).toBe(expected);
    expect(await total('copied')).toBe(expected);
  });
});
