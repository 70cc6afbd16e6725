import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { decodePprof } from '../../src/formats/pprof.js';
import type { Profile } from '../../src/model/index.js';
import { createDecodePool } from '../../src/server/decode-pool.js';
import { runDecodeTask } from '../../src/server/decode-tasks.js';
import { ReceivedBody, receiveBody } from '../../src/server/ingest-body.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * `POST /ingest` keeps a body in the chunks it arrived in and hands them to the decode thread unjoined
 * (ingest-body.ts). What a user checks: the profile stored is the one sent, however it was cut; fastify's
 * limits and errors for a body are the same; and chunks that share memory with others are never moved away.
 */
/** Everything a decoded profile holds, its symbols included, as text. */
const fingerprint = (profiles: readonly Profile[]): string => JSON.stringify(profiles, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : typeof v === 'bigint' ? String(v) : v));
const totals = (profiles: readonly Profile[]): string[] => profiles.map((p) => `${p.type.sampleType}=${p.values.reduce((a, v) => a + v, 0)}`).sort();

/** `bytes` cut in `n` pieces, each copied into a buffer of its own, as node's HTTP parser hands them over. */
const cut = (bytes: Uint8Array, n: number): Uint8Array[] => {
  const size = Math.ceil(bytes.length / n);
  return Array.from({ length: n }, (_, i) => new Uint8Array(bytes.subarray(i * size, (i + 1) * size)));
};

const task = (body: Uint8Array | readonly Uint8Array[]) => ({ kind: 'format' as const, format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name: 'app.cpu{pod=a}', timeMs: 1_768_200_000_000, handOverBody: true });

/** Runs receiveBody on a stream that emits `chunks`, with `contentLength` announced (or none). */
function receive(chunks: readonly Uint8Array[], limit: number, contentLength?: number): Promise<ReceivedBody> {
  const payload = new PassThrough();
  const req = { headers: contentLength === undefined ? {} : { 'content-length': String(contentLength) } } as unknown as FastifyRequest;
  const body = new Promise<ReceivedBody>((resolve, reject) => receiveBody(req, payload, limit, (err, b) => (err ? reject(err) : resolve(b!))));
  for (const c of chunks) payload.write(c);
  payload.end();
  return body;
}

describe('a body kept in the chunks it arrived in', () => {
  const gzipped = pprofFiles()
    .map((f) => readFileSync(f))
    .map((raw) => (raw[0] === 0x1f && raw[1] === 0x8b ? raw : gzipSync(raw)))
    .filter((b) => {
      try {
        return decodePprof(b, { name: 'app.cpu{pod=a}' }).length > 0;
      } catch {
        return false;
      }
    })
    .slice(0, 6);

  it('stores the same profile as the body in one piece, gzipped or not, decoded at once with other chunked bodies', async () => {
    expect(gzipped.length).toBeGreaterThan(3);
    const raws = gzipped.map((g) => new Uint8Array(gunzipSync(g)));
    const bodies = [...gzipped, ...raws];
    const alone = bodies.map((b) => totals(decodePprof(b, { name: 'app.cpu{pod=a}' })));
    // All at once on the event loop: the tasks interleave at their awaits, and the thread's kept buffer is lent to one of them.
    const chunked = await Promise.all(bodies.map((b, i) => runDecodeTask(task(cut(b, 2 + (i % 3)))).then((d) => totals(d.profiles))));
    expect(chunked).toEqual(alone);
  });

  it('keeps nothing of the thread\'s reused buffers in what it returns: profiles decoded earlier are unchanged by later bodies', async () => {
    // Uncompressed bodies are decoded straight from the joining buffer the thread lends and reuses: a
    // profile holding a view into it would change when the next body is joined there.
    const raws = gzipped.map((g) => new Uint8Array(gunzipSync(g)));
    const whole = await Promise.all(raws.map((b) => runDecodeTask(task(b)).then((d) => fingerprint(d.profiles))));
    const chunked: Profile[][] = [];
    for (const b of [...raws, ...raws.slice().reverse()]) chunked.push((await runDecodeTask(task(cut(b, 3)))).profiles);
    // Compared only once every body has gone through the same buffer.
    expect(chunked.slice(0, raws.length).map(fingerprint)).toEqual(whole);
    expect(chunked.slice(raws.length).map(fingerprint)).toEqual(whole.slice().reverse());
  });

  it('moves chunks alone in their buffers to the decode thread, and decodes the same profile there', async () => {
    const pool = createDecodePool({ threads: 1, maxQueue: 4 });
    try {
      const chunks = cut(gzipped[0]!, 3);
      const decoded = await pool.decode(task(chunks));
      expect(totals(decoded.profiles)).toEqual(totals(decodePprof(gzipped[0]!, { name: 'app.cpu{pod=a}' })));
      // Moved, not copied: the chunks are empty on this thread now.
      expect(chunks.map((c) => c.length)).toEqual([0, 0, 0]);
      // Views into one buffer would empty each other's memory if moved: copied instead, and left as they were.
      const shared = new Uint8Array(gzipped[1]!);
      const half = shared.length >> 1;
      const views = [shared.subarray(0, half), shared.subarray(half)];
      const fromViews = await pool.decode(task(views));
      expect(totals(fromViews.profiles)).toEqual(totals(decodePprof(gzipped[1]!, { name: 'app.cpu{pod=a}' })));
      expect(views.map((v) => v.length)).toEqual([half, shared.length - half]);
    } finally {
      await pool.close();
    }
  });

  it('receives chunks into buffers of their own, with fastify\'s 413 and 400 for a body too large or shorter than announced', async () => {
    const whole = new Uint8Array(300).map((_, i) => i % 251);
    const views = [whole.subarray(0, 100), whole.subarray(100, 250), whole.subarray(250)];
    const body = await receive(views, 1000, 300);
    expect(body.length).toBe(300);
    for (const c of body.chunks) expect(c.byteLength).toBe(c.buffer.byteLength);
    expect(Buffer.concat(body.chunks)).toEqual(Buffer.from(whole));

    await expect(receive(views, 1000, 2000)).rejects.toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    await expect(receive(views, 299)).rejects.toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    await expect(receive(views, 1000, 301)).rejects.toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' });
  });
});

