import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dictionaryIds } from '../../src/model/index.js';
import { decodePoolOf } from '../../src/server/decode-pool.js';
import { runDecodeTask } from '../../src/server/decode-tasks.js';
import { decodeAndPack, unpackReply } from '../../src/server/decode-transfer.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';
import { ContentIds } from '../../src/store/content-ids.js';
import type { DecodePool } from '../../src/server/decode-pool.js';
import type { RunningServer } from '../../src/server/server.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';

/**
 * Issue 8: decoding runs on worker threads, so while a large ingest is being decoded the server still
 * answers /healthz and queries. "While" is observed, not timed: each answer is checked against the
 * pool's count of decodes in flight at the moment it arrives. Were the decode on the event loop, no
 * answer could arrive while one is in flight (the body is plain pprof, decoded synchronously).
 */

/** Protobuf bytes written by hand, so the test builds 450 000 samples without 450 000 objects. */
class ProtoBytes {
  private readonly bytes: number[] = [];
  varint(n: number): this {
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
    return this;
  }
  /** A length-delimited field holding what `fill` writes. */
  message(fieldNo: number, fill: (w: ProtoBytes) => void): this {
    const inner = new ProtoBytes();
    fill(inner);
    this.varint((fieldNo << 3) | 2).varint(inner.bytes.length);
    for (const b of inner.bytes) this.bytes.push(b);
    return this;
  }
  text(fieldNo: number, s: string): this {
    const utf8 = Buffer.from(s);
    this.varint((fieldNo << 3) | 2).varint(utf8.length);
    for (const b of utf8) this.bytes.push(b);
    return this;
  }
  uint(fieldNo: number, n: number): this {
    return this.varint(fieldNo << 3).varint(n);
  }
  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

/**
 * A CPU pprof of `samples` samples over side³ distinct three-frame stacks (functions fn1…fn<side>),
 * each of value (stack % 7) + 1: large to decode, within every default limit (500 000 samples per
 * profile, 100 000 distinct stacks).
 */
function largePprof(side: number, samples: number, fnPrefix = 'fn'): { body: Buffer; total: number } {
  const head = new ProtoBytes();
  const strings = ['', 'cpu', 'nanoseconds'];
  for (let f = 1; f <= side; f++) strings.push(`${fnPrefix}${f}`);
  head.message(1, (w) => w.uint(1, 1).uint(2, 2)); // sample_type cpu/nanoseconds
  for (let f = 1; f <= side; f++) {
    head.message(5, (w) => w.uint(1, f).uint(2, f + 2)); // function f → its name
    head.message(4, (w) => w.uint(1, f).message(4, (l) => l.uint(1, f))); // location f → function f
  }
  for (const s of strings) head.text(6, s);
  head.message(11, (w) => w.uint(1, 1).uint(2, 2)); // period_type
  head.uint(12, 10_000_000); // period
  const parts = [head.toBuffer()];
  let total = 0;
  let chunk = new ProtoBytes();
  for (let i = 0; i < samples; i++) {
    const stack = i % side ** 3;
    const a = (stack % side) + 1;
    const b = (Math.floor(stack / side) % side) + 1;
    const c = Math.floor(stack / side ** 2) + 1;
    // One value per stack: the server's prescan counts distinct sample bytes as distinct stacks.
    const value = (stack % 7) + 1;
    total += value;
    chunk.message(2, (w) => w.message(1, (ids) => ids.varint(a).varint(b).varint(c)).message(2, (v) => v.varint(value)));
    if (i % 10_000 === 9_999) {
      parts.push(chunk.toBuffer());
      chunk = new ProtoBytes();
    }
  }
  parts.push(chunk.toBuffer());
  return { body: Buffer.concat(parts), total };
}

let srv: TestServer;
let server: RunningServer;
let pool: DecodePool;

beforeAll(async () => {
  // The server as `kiln server` starts it: the default pool (cores − 1 threads, at least 1).
  srv = await startTestServer();
  server = srv.server;
  pool = decodePoolOf(server.context)!;
  const kept = await ingest(server.url, { name: 'kept', format: 'folded' }, 'main;work 5\n');
  expect(kept.status).toBe(200);
}, 60_000);
afterAll(async () => srv?.close());

async function keptTotal(): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="kept"}', ...ALL_TIME });
  expect(r.status).toBe(200);
  return Number(r.body.flamegraph?.total ?? 0);
}

describe('decode worker pool', () => {
  it('is the server\'s decoder, with cores − 1 threads (at least 1)', () => {
    expect(pool).toBeDefined();
    expect(pool.threads).toBe(Math.max(1, os.availableParallelism() - 1));
  });

  it('/healthz and a query answer while a large ingest is being decoded; the ingest is stored whole', async () => {
    const { body, total } = largePprof(40, 450_000);
    let ingestDone = false;
    const ingestRes = ingest(server.url, { name: 'large', format: 'pprof' }, body).finally(() => (ingestDone = true));

    // Health checks and queries in a loop until the ingest answers; each answer notes whether a decode
    // was in flight when it arrived.
    const healthDuringDecode: number[] = [];
    const queriesDuringDecode: number[] = [];
    let sawDecodeStart = false;
    while (!ingestDone) {
      if (pool.inFlight > 0) sawDecodeStart = true;
      const health = await fetch(`${server.url}/healthz`);
      if (pool.inFlight > 0) healthDuringDecode.push(health.status);
      const kept = await keptTotal();
      if (pool.inFlight > 0) queriesDuringDecode.push(kept);
    }
    const res = await ingestRes;
    const answer = (await res.json()) as { rows?: number; error?: string };
    expect(res.status, answer.error).toBe(200);

    expect(sawDecodeStart).toBe(true);
    expect(healthDuringDecode.length).toBeGreaterThan(0);
    expect(healthDuringDecode.every((s) => s === 200)).toBe(true);
    // The query during the decode saw what was stored before it: 5 samples at 100 Hz, in ns.
    expect(queriesDuringDecode.length).toBeGreaterThan(0);
    expect(queriesDuringDecode.every((t) => t === (5 * 1e9) / 100)).toBe(true);

    // The whole profile was stored: 40³ distinct stacks, every sample's value summed.
    expect(answer.rows).toBe(40 ** 3);
    const large = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="large"}', ...ALL_TIME });
    expect(Number(large.body.flamegraph?.total)).toBe(total);
    expect(pool.inFlight).toBe(0);
  }, 120_000);

  it('/healthz answers again and again while the large write is stored, after its decode, and the write is acknowledged whole', async () => {
    // New function names, so all 40³ stacks, their locations and functions are new to the store: the
    // write that follows the decode is as large as a write gets under the default limits.
    const { body, total } = largePprof(40, 40 ** 3, 'store_fn');
    let ingestDone = false;
    let decodeSeen = false;
    const ingestRes = ingest(server.url, { name: 'large-write', format: 'pprof' }, body).finally(() => (ingestDone = true));
    // Health answers that arrived once the decode was over (nothing in flight on the pool) and before
    // the ingest was acknowledged: while the write path and the engine stored the batch. Were that
    // work one block on the event loop, at most one answer could arrive in the window.
    let healthDuringWrite = 0;
    while (!ingestDone) {
      if (pool.inFlight > 0) decodeSeen = true;
      const before = decodeSeen && pool.inFlight === 0;
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      if (before && !ingestDone) healthDuringWrite++;
    }
    const res = await ingestRes;
    const answer = (await res.json()) as { rows?: number; error?: string };
    expect(res.status, answer.error).toBe(200);
    expect(decodeSeen).toBe(true);
    expect(healthDuringWrite).toBeGreaterThanOrEqual(3);
    // Acknowledged means stored: the very next query sees all of it.
    expect(answer.rows).toBe(40 ** 3);
    const stored = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="large-write"}', ...ALL_TIME });
    expect(Number(stored.body.flamegraph?.total)).toBe(total);
  }, 120_000);

  it('content ids hashed on the worker are the model\'s ids, as if the main thread had hashed them', async () => {
    const task = { kind: 'format', format: 'pprof', body: largePprof(12, 5000, 'ids_fn').body, limits: DEFAULT_TENANT_LIMITS } as const;
    const [fromWorker] = (await unpackReply(await decodeAndPack(task))).profiles;
    const [decodedHere] = (await runDecodeTask(task)).profiles;
    const adopted = new ContentIds().forWrite(fromWorker!.dict);
    const model = dictionaryIds(decodedHere!.dict);
    expect(Array.from(adopted.stacks)).toEqual(model.stacks);
    expect(Array.from(adopted.locations)).toEqual(model.locations);
    expect(Array.from(adopted.functions)).toEqual(model.functions);
    expect(Array.from(adopted.mappings)).toEqual(model.mappings);
    expect(model.stacks.length).toBe(12 ** 3);
  });

  it('moves a handed-over body that is alone in its buffer to the worker, and copies any other', async () => {
    const { body: encoded, total } = largePprof(5, 2000, 'moved_fn');
    const sum = (profiles: { values: readonly number[] }[]) => profiles.reduce((a, p) => a + p.values.reduce((x, v) => x + v, 0), 0);
    const task = (body: Uint8Array, handOverBody: boolean) => ({ kind: 'format', format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, handOverBody }) as const;
    // Alone in its buffer and handed over: moved (this thread's view is emptied), decoded whole.
    const alone = new Uint8Array(encoded);
    expect(sum((await pool.decode(task(alone, true))).profiles)).toBe(total);
    expect(alone.byteLength).toBe(0);
    // Not handed over, or a view into a larger buffer: copied, the caller's bytes untouched.
    const kept = new Uint8Array(encoded);
    const within = new Uint8Array(new Uint8Array(encoded.length + 16).buffer, 8, encoded.length);
    within.set(encoded);
    expect(sum((await pool.decode(task(kept, false))).profiles)).toBe(total);
    expect(sum((await pool.decode(task(within, true))).profiles)).toBe(total);
    expect(Buffer.from(kept).equals(encoded)).toBe(true);
    expect(Buffer.from(within).equals(encoded)).toBe(true);
  });

  it('a limit broken inside the worker answers 413 naming it, and a corrupt pprof 400 with the decoder\'s message', async () => {
    const tooDeep = new ProtoBytes()
      .message(1, (w) => w.uint(1, 1).uint(2, 2))
      .message(5, (w) => w.uint(1, 1).uint(2, 3))
      .message(4, (w) => w.uint(1, 1).message(4, (l) => l.uint(1, 1)))
      .text(6, '').text(6, 'cpu').text(6, 'nanoseconds').text(6, 'f')
      .message(2, (w) => w.message(1, (ids) => { for (let i = 0; i < 5000; i++) ids.varint(1); }).message(2, (v) => v.varint(1)))
      .toBuffer();
    const deep = await ingest(server.url, { name: 'deep', format: 'pprof' }, tooDeep);
    expect(deep.status).toBe(413);
    expect(((await deep.json()) as { error: string }).error).toMatch(/5000 frames deep.*max_stack_depth/);

    const corrupt = await ingest(server.url, { name: 'corrupt', format: 'pprof' }, Buffer.from([0x0a, 0x7f, 0x01]));
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as { error: string }).error).toMatch(/not a valid pprof/);
    expect(await keptTotal()).toBe((5 * 1e9) / 100);
  });
});
