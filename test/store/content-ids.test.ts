import { describe, expect, it } from 'vitest';
import { DictionaryBuilder, dictionaryIds } from '../../src/model/index.js';
import { ContentIds } from '../../src/store/content-ids.js';

describe('ContentIds (the write path\'s memoized dictionaryIds)', () => {
  it('gives exactly the model\'s ids, also for a second dictionary with the same content in another order', () => {
    const ids = new ContentIds();
    const build = (reverse: boolean) => {
      const b = new DictionaryBuilder();
      const order = ['main', 'serve', 'handle', 'parse'];
      if (reverse) order.reverse();
      const libc = b.mapping('/lib/libc.so.6', 'abc');
      const frames = order.map((n, i) => b.location(i % 2 ? libc : -1, BigInt(0x1000 + i), [{ function: b.function(n, `_Z${n}`, 'x.cc'), line: i }]));
      const raw = b.location(libc, 0xdeadn, []);
      const inlined = b.location(libc, 0x10n, [
        { function: b.function('inner'), line: 3 },
        { function: b.function('outer'), line: 9 },
      ]);
      b.stack([raw, ...frames]);
      b.stack([inlined, frames[0]!]);
      b.stack(Array.from({ length: 300 }, (_, i) => frames[i % frames.length]!)); // deeper than the initial buffer
      return b.dict;
    };
    for (const d of [build(false), build(true), build(false)]) expect(ids.of(d)).toEqual(dictionaryIds(d));
  });
});
