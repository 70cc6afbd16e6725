import { describe, expect, it } from 'vitest';
import type { Profile } from '../../src/model/index.js';
import { CPU_TYPE, DictionaryBuilder, dictionaryIds, labelsFrom } from '../../src/model/index.js';
import { ContentIds } from '../../src/store/content-ids.js';
import { commonDivisor, profileSamples } from '../../src/store/profile-rows.js';

/** The straightforward definition: sum by stack id (bigint Map), sort, total, gcd. */
function reference(p: Profile, stackIds: readonly bigint[]) {
  const sums = new Map<bigint, number>();
  p.stacks.forEach((s, i) => {
    const v = p.values[i]!;
    if (v !== 0) sums.set(stackIds[s]!, (sums.get(stackIds[s]!) ?? 0) + v);
  });
  const ids = BigUint64Array.from(sums.keys()).sort();
  const values = Float64Array.from(ids, (id) => sums.get(id)!);
  const total = values.reduce((a, b) => a + b, 0);
  const scale = commonDivisor(values);
  return { stackIds: ids, scaled: values.map((v) => v / scale), scale, total };
}

function words(ids: readonly bigint[]): Uint32Array {
  return new Uint32Array(BigUint64Array.from(ids).buffer);
}

function profile(stacks: number[], values: number[]): Profile {
  return { type: CPU_TYPE, labels: labelsFrom({ service_name: 'x' }), timeMs: 0, durationNs: 0, period: 0, dict: { mappings: [], functions: [], locations: [], stacks: [] }, stacks, values };
}

describe('profileSamples', () => {
  it('sums duplicates, drops zeros and sorts by id exactly as a Map keyed by id would', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 50; round++) {
      // Ids chosen to collide in their high word often (and sometimes to be equal across indices).
      const n = 1 + Math.floor(rnd() * 60);
      const ids = Array.from({ length: n }, () =>
        (BigInt(Math.floor(rnd() * 4)) << 32n) | BigInt(rnd() < 0.3 ? Math.floor(rnd() * 3) : Math.floor(rnd() * 2 ** 32)),
      );
      if (round % 5 === 0) ids[0] = 0xffff_ffff_ffff_ffffn;
      const rows = Math.floor(rnd() * 200);
      const stacks = Array.from({ length: rows }, () => Math.floor(rnd() * n));
      const values = Array.from({ length: rows }, () => (rnd() < 0.1 ? 0 : Math.floor(rnd() * 5) * 52_631_578 + (round % 2 ? 0.5 : 0)));
      const p = profile(stacks, values);
      const got = profileSamples(p, words(ids));
      const want = reference(p, ids);
      expect(got.stackIds).toEqual(want.stackIds);
      expect(got.scaled).toEqual(want.scaled);
      expect(got.scale).toBe(want.scale);
      expect(got.total).toBe(want.total);
    }
  });

  it('gives an empty row set for an all-zero profile', () => {
    const got = profileSamples(profile([0, 0], [0, 0]), words([5n]));
    expect(got.stackIds.length).toBe(0);
    expect(got.scale).toBe(1);
  });
});

describe('ContentIds.forWrite', () => {
  it('hands each stack id also as its two 32-bit words, and memoized stacks keep the model ids after the dictionaries change', () => {
    const ids = new ContentIds();
    for (let round = 0; round < 3; round++) {
      const b = new DictionaryBuilder();
      const m = b.mapping('/bin/app', 'abc');
      const locs = ['a', 'b', 'c', 'd'].map((n, i) => b.location(m, BigInt(i), [{ function: b.function(n), line: round === 2 ? i : 0 }]));
      const stacks = [b.stack([locs[0]!, locs[1]!]), b.stack([locs[1]!, locs[0]!]), b.stack([locs[2]!, locs[3]!, locs[0]!])];
      expect(stacks.length).toBe(3);
      const w = ids.forWrite(b.dict);
      const model = dictionaryIds(b.dict);
      expect(Array.from(w.stacks)).toEqual(model.stacks);
      expect(Array.from(new BigUint64Array(w.stackWords.slice().buffer))).toEqual(model.stacks);
    }
  });
});
