import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { dictionaryIds } from '../../src/model/index.js';
import { createDecodePool } from '../../src/server/decode-pool.js';
import type { Decoded, PprofSeries } from '../../src/server/decode-tasks.js';
import { pprofSeries, runDecodeTask } from '../../src/server/decode-tasks.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';
import { ownsBody } from '../../src/server/push.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * push.v1's raw profiles are views into the request's body. When the body is a buffer of its own (an
 * uncompressed Connect request, read whole), the decode thread takes that buffer instead of a copy;
 * what a user checks: the profiles decoded are the same either way, and a buffer that may hold anything
 * else is never taken.
 */

const pprof = readFileSync(pprofFiles().find((f) => f.endsWith('parca-profile1.pb.gz'))!);

/** A request body as Connect reads it: one buffer, the profile somewhere inside it. */
function requestWith(profiles: Uint8Array[]): { body: Uint8Array; series: PprofSeries[] } {
  const body = new Uint8Array(16 + profiles.reduce((n, p) => n + p.length + 8, 0));
  let at = 16;
  const views: Uint8Array[] = [];
  for (const p of profiles) {
    body.set(p, at);
    views.push(body.subarray(at, at + p.length));
    at += p.length + 8;
  }
  return { body, series: [pprofSeries([{ name: 'service_name', value: 'handover' }], views.map((rawProfile) => ({ rawProfile })))] };
}

const headers = (h: Record<string, string>) => new Headers(h);
const summary = (d: Decoded) =>
  d.profiles.map((p) => ({ type: p.type, labels: p.labels, values: [...p.values], stacks: p.stacks.map((s) => dictionaryIds(p.dict).stacks[s]!.toString(16)) }));

describe('push.v1 bodies handed to the decode thread', () => {
  it('are handed over only when the profiles lie in one buffer of exactly the request length, not compressed', () => {
    const { body, series } = requestWith([pprof, pprof]);
    const length = String(body.byteLength);
    expect(ownsBody(series, headers({ 'content-length': length }))).toBe(true);
    expect(ownsBody(series, headers({ 'content-length': length, 'content-encoding': 'identity' }))).toBe(true);
    // Decompressed, chunked, or a buffer larger than the body (it may hold other data): copied.
    expect(ownsBody(series, headers({ 'content-length': length, 'content-encoding': 'gzip' }))).toBe(false);
    expect(ownsBody(series, headers({ 'content-length': length, 'grpc-encoding': 'gzip' }))).toBe(false);
    expect(ownsBody(series, headers({ 'content-length': length, 'connect-content-encoding': 'gzip' }))).toBe(false);
    expect(ownsBody(series, headers({}))).toBe(false);
    expect(ownsBody(series, headers({ 'content-length': String(body.byteLength - 1) }))).toBe(false);
    const two = [pprofSeries([], [{ rawProfile: requestWith([pprof]).series[0]!.rawProfiles[0]! }, { rawProfile: series[0]!.rawProfiles[0]! }])];
    expect(ownsBody(two, headers({ 'content-length': length }))).toBe(false);
    expect(ownsBody([], headers({ 'content-length': length }))).toBe(false);
  });

  const pool = createDecodePool({ threads: 1, maxQueue: 4 });
  afterAll(() => pool.close());

  it('decodes a handed-over body on the pool as a copied one, and only the handed-over one is emptied here', async () => {
    const expected = summary(await runDecodeTask({ kind: 'pprof-series', series: requestWith([pprof]).series, limits: DEFAULT_TENANT_LIMITS }));
    expect(expected.length).toBeGreaterThan(0);

    const copied = requestWith([pprof]);
    expect(summary(await pool.decode({ kind: 'pprof-series', series: copied.series, limits: DEFAULT_TENANT_LIMITS }))).toEqual(expected);
    expect(copied.body.byteLength).toBe(copied.body.buffer.byteLength);
    expect(copied.series[0]!.rawProfiles[0]!.byteLength).toBe(pprof.length);

    const moved = requestWith([pprof, pprof]);
    const decoded = await pool.decode({ kind: 'pprof-series', series: moved.series, limits: DEFAULT_TENANT_LIMITS, handOverBodies: true });
    expect(summary(decoded)).toEqual([...expected, ...expected]);
    // Moved, not copied: the request's buffer is gone from this thread.
    expect(moved.body.byteLength).toBe(0);
    expect(moved.series[0]!.rawProfiles[0]!.byteLength).toBe(0);
  });
});
