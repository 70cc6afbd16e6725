import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph, toFlameGraph } from '../../src/formats/flamebearer.js';
import { decodePprof } from '../../src/formats/pprof.js';
import { profileTypeId } from '../../src/model/profile-type.js';
import { QueryEngine } from '../../src/query/engine.js';
import { walk } from '../../src/query/tree.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * Conformance over the shared pprof corpus: after a real store holds a file, the flame graph total and
 * every function's self and total equal what pprof-format alone says about the same file.
 * The expectation is computed here straight from the pprof tables, not through Kiln's decoder.
 */
interface Expected {
  total: number;
  self: Map<string, number>;
  total_: Map<string, number>;
}

function expectedPerSampleType(data: Uint8Array): Expected[] {
  const raw = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const p = PprofProfile.decode(raw);
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)]!;
  const fnName = new Map(p.function.map((f) => [Number(f.id), str(f.name)]));
  const mapFile = new Map(p.mapping.map((m) => [Number(m.id), str(m.filename)]));
  const names = new Map<number, string[]>();
  // .NET writers that give every function id 0 are repaired by position, as Kiln's decoder and Pyroscope do.
  const brokenIds = p.function.length > 0 && p.function.length === p.location.length && p.function.every((f) => Number(f.id) === 0);
  for (const [i, loc] of p.location.entries()) {
    if (loc.line.length > 0) {
      names.set(Number(loc.id), loc.line.map((l) => (brokenIds ? str(p.function[i]!.name) : fnName.get(Number(l.functionId))!)));
    } else {
      const file = mapFile.get(Number(loc.mappingId));
      const bin = file ? file.slice(file.lastIndexOf('/') + 1) || file : 'unknown';
      names.set(Number(loc.id), [`${bin}+0x${BigInt.asUintN(64, BigInt(loc.address)).toString(16)}`]);
    }
  }
  return p.sampleType.map((_, t) => {
    const e: Expected = { total: 0, self: new Map(), total_: new Map() };
    for (const s of p.sample) {
      const raw = s.value[t]!;
      // int64 values come out of pprof-format as unsigned bigints when large or negative.
      const v = typeof raw === 'bigint' ? Number(BigInt.asIntN(64, raw)) : raw;
      if (v === 0) continue;
      e.total += v;
      const frames = s.locationId.flatMap((id) => names.get(Number(id))!); // leaf first
      if (frames.length > 0) e.self.set(frames[0]!, (e.self.get(frames[0]!) ?? 0) + v);
      for (const f of new Set(frames)) e.total_.set(f, (e.total_.get(f) ?? 0) + v);
    }
    return e;
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-query-corpus-'));
let store: Store;
let engine: QueryEngine;
beforeAll(async () => {
  store = await openStore(dir, { threads: 1 });
  engine = new QueryEngine(store);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const T = Date.UTC(2024, 0, 1);

describe('pprof corpus: flame graph and top table equal pprof-format', () => {
  for (const [i, file] of pprofFiles().entries()) {
    it(path.relative(path.dirname(path.dirname(file)), file), async () => {
      const data = new Uint8Array(readFileSync(file));
      const tenant = `corpus-${i}`;
      // Pin the time so files without time_nanos land in the range queried.
      const profiles = decodePprof(data, { timeMs: T });
      await store.write(tenant, profiles);
      const range = { from: 0, to: Date.UTC(2100, 0, 1) };
      const expected = expectedPerSampleType(data);
      const raw = data[0] === 0x1f ? gunzipSync(data) : data;
      const pp = PprofProfile.decode(raw);
      const typeIds = new Set(profiles.map((p) => profileTypeId(p.type)));
      expect(typeIds.size).toBe(pp.sampleType.filter((_, t) => expected[t]!.total !== 0).length);
      for (const [t, e] of expected.entries()) {
        if (e.total === 0) continue;
        const st = pp.stringTable.strings[Number(pp.sampleType[t]!.type)]!.replace(/-/g, '_');
        const type = [...new Set(profiles.map((p) => p.type))].find((x) => x.sampleType === st)!;
        expect(type, `a profile type for sample type ${st}`).toBeDefined();
        const sq = { tenant, from: range.from, to: range.to, selector: { profileType: profileTypeId(type), matchers: [] } };

        const tree = await engine.flamegraph(sq, { maxNodes: 0 });
        expect(tree.total).toBe(e.total);
        // The wire shape carries the same total, and decodes to the same tree when widths are
        // non-negative (delta heap profiles hold negative values; x offsets cannot place those).
        const back = fromFlameGraph(toFlameGraph(tree));
        expect(back.total).toBe(tree.total);
        let negative = false;
        walk(tree, (n) => { if (n.self < 0 || n.total < 0) negative = true; });
        if (!negative) expect(back).toEqual(tree);

        const top = await engine.top(sq);
        expect(top.total).toBe(e.total);
        const self = new Map(top.entries.filter((x) => x.self !== 0).map((x) => [x.name, x.self]));
        const total = new Map(top.entries.map((x) => [x.name, x.total]));
        expect(self).toEqual(new Map([...e.self].filter(([, v]) => v !== 0)));
        expect(total).toEqual(e.total_);
      }
    });
  }
});
