import path from 'node:path';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareStacks } from '../../src/insight/compare.js';
import type { CompareReport } from '../../src/insight/compare.js';
import { ProfileFiles } from '../../src/insight/compare-files.js';
import type { MergedSide } from '../../src/insight/compare-files.js';
import { parseGate } from '../../src/insight/compare-gates.js';
import { heapPartner, unscaledSamples } from '../../src/insight/compare-samples.js';
import { parseProfileType, profileTypeId } from '../../src/model/index.js';
import { rawPprof } from '../server/helpers.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';

/**
 * The regression gate on Go heap profiles, whose values are scaled estimates (compare-samples.ts): the
 * corpus' real heap profile (pyroscope-heap, 11 951 stacks of mostly small objects) split at random
 * into two halves is two runs of one workload — the gate must stay quiet on 20 such pairs, where
 * reading each scaled object as a sample would call them different — yet a head doing 2× the
 * allocations of one function is still caught, by the CLI's file path and by /api/v1/compare alike.
 * Expected sample counts are computed here from the file with pprof-format, Go's formula undone.
 */
const OBJECTS = 'memory:alloc_objects:count:space:bytes';
const ANY = parseGate('any>+20%');
const RATE = 524_288;

interface HeapFile {
  readonly profile: PprofProfile;
  /** Sample indexes with allocations (alloc_objects > 0). */
  readonly allocating: number[];
  /** Location id → the names of its functions (inlined ones included), for grouping stacks. */
  readonly stackNames: Map<string, string>;
  /** The function a sample allocated in (its leaf). */
  leafOf(sample: PprofProfile['sample'][number]): string;
}

function readHeap(): HeapFile {
  const profile = PprofProfile.decode(rawPprof(path.join(requireTestdata('pprof'), 'pyroscope-heap')));
  const str = (i: number | bigint) => profile.stringTable.strings[Number(i)]!;
  const fn = new Map(profile.function.map((f) => [String(f.id), str(f.name)]));
  const leaf = new Map(profile.location.map((l) => [String(l.id), fn.get(String(l.line[0]?.functionId)) ?? '']));
  const allocating = profile.sample.flatMap((s, i) => (Number(s.value[0]) > 0 ? [i] : []));
  const stackNames = new Map(profile.location.map((l) => [String(l.id), l.line.map((ln) => fn.get(String(ln.functionId))).join('>')]));
  return { profile, allocating, stackNames, leafOf: (sample) => leaf.get(String(sample.locationId[0])) ?? '' };
}

/**
 * Samples behind the kept stacks, from pprof-format's values alone: samples with the same call stack
 * (by function names, as a merge adds them up) summed, then Go's scaling undone per stack.
 */
function expectedSamples(h: HeapFile, keep: readonly number[], times: (i: number) => number = () => 1): number {
  const byStack = new Map<string, [number, number]>();
  for (const i of keep) {
    const s = h.profile.sample[i]!;
    const key = s.locationId.map((l) => h.stackNames.get(String(l))).join(';');
    const acc = byStack.get(key) ?? [0, 0];
    acc[0] += Number(s.value[0]) * times(i);
    acc[1] += Number(s.value[1]) * times(i);
    byStack.set(key, acc);
  }
  let n = 0;
  for (const [objects, bytes] of byStack.values()) n += unscaledSamples(objects, bytes, RATE);
  return n;
}

/**
 * Two runs of the workload the file profiled: each stack's samples (Go's scaling undone) fall into run
 * A or run B by a fair coin each (seeded xorshift32, the same runs every time), and each run's values
 * are its samples scaled back up as Go would. That is what sampling the same allocations twice gives —
 * unlike splitting the stacks, which would move whole call paths from one run to the other.
 */
function twoRuns(h: HeapFile, seed: number): [Uint8Array, Uint8Array] {
  // mulberry32's top bit: xorshift32's low bits are not independent enough for millions of coins.
  let x = seed >>> 0;
  const coin = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 31) === 1;
  };
  const runs = [PprofProfile.decode(h.profile.encode()), PprofProfile.decode(h.profile.encode())] as const;
  const kept: [typeof runs[0]['sample'], typeof runs[0]['sample']] = [[], []];
  for (const i of h.allocating) {
    const s = h.profile.sample[i]!;
    const [objects, bytes] = [Number(s.value[0]), Number(s.value[1])];
    const n = Math.max(1, Math.round(unscaledSamples(objects, bytes, RATE)));
    let k = 0;
    for (let j = 0; j < n; j++) if (coin()) k++;
    for (const [r, m] of [[0, k], [1, n - k]] as const) {
      if (m === 0) continue;
      const copy = runs[r].sample[i]!;
      copy.value = [Math.round((objects * m) / n), Math.round((bytes * m) / n), 0, 0];
      kept[r].push(copy);
    }
  }
  return runs.map((p, r) => {
    p.sample = kept[r];
    p.timeNanos = BigInt(Date.now() - 60_000) * 1_000_000n;
    return p.encode();
  }) as [Uint8Array, Uint8Array];
}

/** Samples behind a pprof's records, each record's scaling undone on its own (what Go sampled). */
function recordSamples(data: Uint8Array): number {
  return PprofProfile.decode(data).sample.reduce((n, s) => {
    const o = Number(s.value[0]);
    return n + (o > 0 ? Math.max(1, Math.round(unscaledSamples(o, Number(s.value[1]), RATE))) : 0);
  }, 0);
}

/** Samples behind a pprof's alloc_objects/alloc_space, per stack of function names, Go's scaling undone. */
function samplesOf(data: Uint8Array): number {
  const p = PprofProfile.decode(data);
  const h: HeapFile = { profile: p, allocating: p.sample.map((_, i) => i), stackNames: heap.stackNames, leafOf: heap.leafOf };
  return expectedSamples(h, h.allocating);
}

let heap: HeapFile;
let files: ProfileFiles;
let srv: TestServer;

beforeAll(async () => {
  heap = readHeap();
  files = await ProfileFiles.open();
  srv = await startTestServer();
}, 60_000);

afterAll(async () => {
  await files?.close();
  await srv?.close();
});

const merge = (name: string, data: Uint8Array): Promise<MergedSide> => files.merge([{ name, data }], OBJECTS);
const gate = (b: MergedSide, h: MergedSide): CompareReport =>
  compareStacks(b.type, { stacks: b.stacks, period: b.period, counts: b.counts, countsFrom: b.countsFrom }, { stacks: h.stacks, period: h.period, counts: h.counts, countsFrom: h.countsFrom }, { gates: [ANY] });

describe('compare on Go heap profiles', () => {
  it('pairs each heap type with the other half of its pair, and no other type', () => {
    expect(profileTypeId(heapPartner(parseProfileType(OBJECTS))!)).toBe('memory:alloc_space:bytes:space:bytes');
    expect(profileTypeId(heapPartner(parseProfileType('memory:inuse_space:bytes:space:bytes'))!)).toBe('memory:inuse_objects:count:space:bytes');
    expect(heapPartner(parseProfileType('process_cpu:cpu:nanoseconds:cpu:nanoseconds'))).toBeUndefined();
    // 48-byte objects at 512 KiB: ~10 923 scaled objects are one sample; a 10 MiB object is one sample, not 20.
    expect(unscaledSamples(10_923, 524_312, RATE)).toBeCloseTo(1, 2);
    expect(unscaledSamples(1, 10 * 1024 * 1024, RATE)).toBeCloseTo(1, 6);
  });

  it('counts the samples behind the scaled values, and 10 pairs of runs of one workload break no gate', async () => {
    let quietWithCounts = 0;
    let loudPerObject = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const [a, b] = twoRuns(heap, seed * 7919);
      const [base, head] = await Promise.all([merge('a.pb', a), merge('b.pb', b)]);
      expect(base.counts, 'the alloc_space half was used').toBeDefined();
      const report = gate(base, head);
      // Exact: each record's own samples, summed.
      expect(report.base.samples, `seed ${seed}`).toBe(recordSamples(a));
      expect(report.base.countsFrom).toBe('records');
      if (report.passed) quietWithCounts++;
      // The same pair read as one sample per scaled object (the period the values suggest).
      const naive = compareStacks(base.type, { stacks: base.stacks, period: 1 }, { stacks: head.stacks, period: 1 }, { gates: [ANY] });
      if (!naive.passed) loudPerObject++;
    }
    expect(quietWithCounts).toBe(10);
    // Why the counts matter: per scaled object, sampling noise reads as regressions.
    expect(loudPerObject).toBeGreaterThan(5);
  }, 240_000);

  it('still catches a head that allocates twice as much in one function, in files and on the server', async () => {
    const [a, b] = twoRuns(heap, 4242);
    const head = PprofProfile.decode(b);
    const leafOf = heap.leafOf;
    // The function with the most samples behind it in the head run, and that run with its allocations doubled.
    const perLeaf = new Map<string, number>();
    for (const s of head.sample) perLeaf.set(leafOf(s), (perLeaf.get(leafOf(s)) ?? 0) + unscaledSamples(Number(s.value[0]), Number(s.value[1]), RATE));
    const [hot] = [...perLeaf].sort((x, y) => y[1] - x[1])[0]!;
    head.sample = head.sample.flatMap((s) => (leafOf(s) === hot ? [s, s] : [s]));
    const doubled = head.encode();
    const report = gate(await merge('a.pb', a), await merge('b2.pb', doubled));
    expect(report.passed).toBe(false);
    expect(report.gates[0]!.offenders.map((o) => o.name)).toContain(hot);

    // The server reads the alloc_space half of the same selection.
    for (const [run, data] of [['a', a], ['b', doubled]] as const) {
      const res = await fetch(`${srv.url}/ingest?${new URLSearchParams({ name: `heap{run=${run}}`, format: 'pprof' })}`, { method: 'POST', body: Buffer.from(data) });
      expect(res.status, await res.text()).toBe(200);
    }
    const q = new URLSearchParams({ base_query: `${OBJECTS}{run="a"}`, head_query: `${OBJECTS}{run="b"}`, base_from: 'now-7d', head_from: 'now-7d', base_until: 'now+1h', head_until: 'now+1h', fail_on: 'any>+20%' });
    const res = await fetch(`${srv.url}/api/v1/compare?${q}`);
    const api = (await res.json()) as CompareReport;
    expect(res.status, JSON.stringify(api)).toBe(200);
    expect(api.passed).toBe(false);
    expect(api.gates[0]!.offenders.map((o) => o.name)).toContain(hot);
    // The server keeps merged stacks only: its counts are the per-stack estimate, above the records' own.
    expect(Math.abs(api.base.samples - samplesOf(a)) / samplesOf(a)).toBeLessThan(0.01);
    expect(api.base.samples).toBeGreaterThanOrEqual(recordSamples(a));
    expect(api.base.countsFrom).toBe('merged stacks');
    // …and the text a CI log shows says so.
    const text = await (await fetch(`${srv.url}/api/v1/compare?${q}&format=text`)).text();
    expect(text).toMatch(/samples \(estimated from merged stacks, an upper bound/);
  }, 120_000);
});
