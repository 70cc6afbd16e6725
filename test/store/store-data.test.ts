import { describe, expect, it } from 'vitest';
import { DEFAULT_SHAPE, ServiceModel } from '../../bench/store-data.js';

describe('bench/store-data: function names made flat or sliced', () => {
  it('gives the same profiles either way and by default, so figures of both ways measure the same data', () => {
    const flat = new ServiceModel({ ...DEFAULT_SHAPE, names: 'flat' });
    const sliced = new ServiceModel({ ...DEFAULT_SHAPE, names: 'sliced' });
    const byDefault = new ServiceModel(DEFAULT_SHAPE);
    for (const t of [0, 10_000, 20_000]) {
      const a = flat.profile(t);
      const b = sliced.profile(t);
      const c = byDefault.profile(t);
      expect(a.dict.functions.length).toBeGreaterThan(100);
      expect(a).toEqual(b);
      expect(c).toEqual(a);
    }
    // The decoded names are the model's names, whole (no offset off by one), one function each.
    const names = flat.profile(30_000).dict.functions.map((f) => f.name);
    expect(names.every((n) => /^(pkg\d+\.Type\d+\.method\d+|runtime\.\w+|main\.main|net\/http\.\(\*conn\)\.serve)$/.test(n))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });
});
