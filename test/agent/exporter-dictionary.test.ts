import { describe, expect, it } from 'vitest';
import { CompactDictionaryBuilder } from '../../src/agent/exporter-dictionary.js';
import { OtlpRequestEncoder } from '../../src/agent/exporter-otlp.js';
import { buildProfiles, KeptDictionary } from '../../src/agent/exporter-profiles.js';
import { RowsEncoder } from '../../src/agent/exporter-rows.js';
import type { ProcessLabeler, RawSample, Symbolizer, SymbolizerStats } from '../../src/agent/types.js';
import { DictionaryBuilder, labelsFrom } from '../../src/model/index.js';

/** Names frames by their address; every tenth address is left unsymbolized (a location keyed by address). */
class NamingSymbolizer implements Symbolizer {
  observe(): void {}
  symbolize(_pid: number, user: bigint[], kernel: bigint[], b: DictionaryBuilder): number[] {
    const bin = b.mapping('/opt/app', 'b1d');
    return [...kernel, ...user].map((a) => (a % 10n === 0n ? b.location(bin, a, []) : b.location(bin, a * 16n, [{ function: b.function(`f${a}`, '', a % 3n === 0n ? 'a.c' : ''), line: Number(a % 7n) }])));
  }
  stats(): SymbolizerStats {
    return { frames: 0, symbolized: 0 };
  }
}

const labeler: ProcessLabeler = { labels: (pid, comm) => labelsFrom({ service_name: comm, pid: String(pid) }) };
const window = { startMs: 1_700_000_000_000, endMs: 1_700_000_010_000 };

/** One interval on a host where processes come and go: a long-lived server, and 8 new short-lived processes with frames of their own. */
function interval(i: number): RawSample[] {
  const out: RawSample[] = [];
  const add = (pid: number, comm: string, user: number[], count: number): void => {
    out.push({ pid, kind: 'cpu', comm, userAddrs: user.map(BigInt), kernelAddrs: [], count });
  };
  add(1, 'server', [1, 2, 3], 19);
  add(1, 'server', [4, 2, 3], 5 + (i % 3));
  for (let p = 0; p < 8; p++) {
    const pid = 1000 + i * 8 + p;
    for (let s = 0; s < 10; s++) add(pid, 'job', [100_000 + pid * 100 + s, 100_000 + pid * 100 + 50, 2, 3], 1 + s);
  }
  return out;
}

describe('CompactDictionaryBuilder', () => {
  it('makes the same dictionary as DictionaryBuilder for the same calls', () => {
    const a = new DictionaryBuilder();
    const b = new CompactDictionaryBuilder();
    let seed = 7;
    const next = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let i = 0; i < 20_000; i++) {
      const name = `fn${next(300)}`;
      const file = next(4) === 0 ? 'x.c' : '';
      const sys = next(5) === 0 ? `_Z${name}` : '';
      const m = next(3) - 1;
      const lines = next(4) === 0 ? [] : [{ function: a.function(name, sys, file), line: next(20) }];
      expect(b.function(name, sys, file)).toBe(lines[0]?.function ?? a.function(name, sys, file));
      const address = BigInt(next(400)) << BigInt(next(2) * 33);
      const loc = a.location(m < 0 ? -1 : a.mapping(`/lib${m}`), address, lines);
      expect(b.location(m < 0 ? -1 : b.mapping(`/lib${m}`), address, lines)).toBe(loc);
      const stack = Array.from({ length: 1 + next(4) }, () => next(a.dict.locations.length));
      expect(b.stack(stack)).toBe(a.stack(stack));
    }
    expect(b.dict).toEqual(a.dict);
  });

  it('keeps unnamed frames apart whose addresses are the same number once rounded (above 2^53)', () => {
    const b = new CompactDictionaryBuilder();
    const m = b.mapping('[unknown]');
    // Interpreter and corrupt words sit at 2^63 and up: 1n apart, they hash alike and differ by address.
    const addresses = [2n ** 63n + 1n, 2n ** 63n + 2n, 2n ** 63n + 3n, 2n ** 53n + 1n, 2n ** 53n];
    const first = addresses.map((a) => b.location(m, a, []));
    expect(new Set(first).size).toBe(addresses.length);
    expect(addresses.map((a) => b.location(m, a, []))).toEqual(first);
    expect(b.dict.locations.map((l) => l.address)).toEqual(addresses);
  });
});

describe('KeptDictionary under process churn', () => {
  it('stays under its bound, keeps what is in use, and the server receives exactly what a fresh dictionary sends', () => {
    // The agent's default bound; 600 intervals of churn add ≈ 80 000 entries.
    const kept = new KeptDictionary();
    const sym = new NamingSymbolizer();
    const rowsKept = new RowsEncoder();
    const rowsFresh = new RowsEncoder();
    const otlpKept = new OtlpRequestEncoder();
    let largest = 0;
    let serverStacks = -1;
    for (let i = 0; i < 600; i++) {
      const samples = interval(i);
      const built = buildProfiles(samples, window, sym, labeler, { frequencyHz: 19, shareDictionary: true, keptDictionary: kept }).profiles;
      const fresh = buildProfiles(samples, window, new NamingSymbolizer(), labeler, { frequencyHz: 19, shareDictionary: true }).profiles;
      const { locations, stacks } = { locations: kept.stats().dictionaryLocations, stacks: kept.stats().dictionaryStacks };
      largest = Math.max(largest, locations + stacks);
      // Rows push: the same bytes as from a dictionary made for this interval alone, every interval —
      // including those right after an eviction (the server's stacks are not sent again).
      const a = rowsKept.encode(built);
      const b = rowsFresh.encode(fresh);
      expect(Buffer.from(a.body).equals(Buffer.from(b.body))).toBe(true);
      expect(a.stackIds).toEqual(b.stackIds);
      rowsKept.confirm(a.stackIds);
      rowsFresh.confirm(b.stackIds);
      // The long-lived server's two stacks travel once, in the first interval.
      const server = built.find((p) => p.labels.some((l) => l.name === 'pid' && l.value === '1'))!;
      const serverIds = new Set(rowsKept.stackIdsOf([server]));
      if (i > 0) expect(a.stackIds.filter((id) => serverIds.has(id))).toEqual([]);
      serverStacks = serverIds.size;
      if (i % 50 === 0) expect(Buffer.from(otlpKept.encode(built)).equals(Buffer.from(new OtlpRequestEncoder().encode(fresh)))).toBe(true);
    }
    expect(serverStacks).toBe(2);
    const stats = kept.stats();
    expect(stats.dictionaryResets).toBeGreaterThan(0);
    expect(stats.dictionaryEvictedStacks).toBeGreaterThan(0);
    // Bounded: 40 000 locations plus stacks, overshot by at most one interval's additions (≈ 130 here).
    expect(largest).toBeLessThanOrEqual(40_000 + 200);
  });
});
