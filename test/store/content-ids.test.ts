import { describe, expect, it } from 'vitest';
import type { SymbolDictionary } from '../../src/model/index.js';
import { DictionaryBuilder, InputError, dictionaryIds } from '../../src/model/index.js';
import { ContentIds, attachPrecomputedIds, checksDictionary, precomputeIds } from '../../src/store/content-ids.js';
import { STORED_STACK } from '../../src/store/stored-stacks.js';

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

  // Content ids are keys in stored DuckDB and ClickHouse data: these were computed at stop 18's code
  // (24ad540) and must never change, whatever the memo inside ContentIds does to get them faster.
  it('gives byte-identical ids for a fixed dictionary, fresh and from a warm memo', () => {
    const dict = goldenDictionary();
    const golden = {
      mappings: ['b45423bfac2d5e5a', '06891f5eaf719fc5'],
      functions: ['ec6e22383dc8bebb', '0ef20f4e9f06cbaf', '0a334418f8a908ef', '5ea69e129cf2e63e', '93e2537470c78dc1', '2c7f3664dc038e47', '1522920cc59f4346'],
      locations: ['036ab1521c23aaed', 'f96531da68291c92', '3df2595ce3f23394', '2c5c1f3d3420b8d4', '809efea755f4daf0', 'f58d65b841b7aede', '18970229eac62293', 'e996051c39f0235b'],
      stacks: ['b3776d3b375f9005', 'a05e22ca41d65beb', 'b9b9306abe837594', '287226aaab2e7407'],
    };
    const hex = (ids: readonly bigint[]) => ids.map((x) => x.toString(16).padStart(16, '0'));
    const asHex = (ids: { mappings: bigint[]; functions: bigint[]; locations: bigint[]; stacks: bigint[] }) => ({
      mappings: hex(ids.mappings),
      functions: hex(ids.functions),
      locations: hex(ids.locations),
      stacks: hex(ids.stacks),
    });
    expect(asHex(dictionaryIds(dict))).toEqual(golden);
    const ids = new ContentIds();
    expect(asHex(ids.of(dict))).toEqual(golden);
    // The same content again in fresh strings (as the next push decodes them): answered from the memo.
    const again = goldenDictionary();
    expect(asHex(ids.of(again))).toEqual(golden);
    const w = ids.forWrite(goldenDictionary());
    expect(hex(Array.from(w.stacks))).toEqual(golden.stacks);
    expect(Array.from(w.stackWords, (x) => x.toString(16).padStart(8, '0'))).toEqual(golden.stacks.flatMap((s) => [s.slice(8), s.slice(0, 8)]));
  });

  it('refuses a dictionary whose indices name no entry as validation would, and memoizes nothing wrong from it', () => {
    const ids = new ContentIds();
    const good = () => {
      const b = new DictionaryBuilder();
      const app = b.mapping('/app', 'b1');
      const f = b.location(app, 0n, [{ function: b.function('f'), line: 3 }]);
      const g = b.location(-1, 0n, [{ function: b.function('g'), line: 0 }]);
      b.stack([f, g]);
      return b.dict;
    };
    const base = good();
    const withLocation = (change: Record<string, unknown>) => ({ ...base, locations: [{ ...base.locations[0]!, ...change }, base.locations[1]!] });
    const line = (fn: number, ln: number) => withLocation({ lines: [{ function: fn, line: ln }] });
    const cases: [SymbolDictionary, RegExp][] = [
      [{ ...base, stacks: [[0, 2]] }, /missing location 2$/],
      [{ ...base, stacks: [[0.5]] }, /missing location 0.5$/],
      [{ ...base, stacks: [[-1]] }, /missing location -1$/],
      [line(2, 3), /missing function 2$/],
      [line(0.5, 3), /missing function 0.5$/],
      [line(0, 2.5), /line number 2.5 is not a 64-bit integer/],
      [line(0, Number.NaN), /line number NaN/],
      [withLocation({ mapping: 1 }), /missing mapping 1$/],
      [withLocation({ mapping: -2 }), /missing mapping -2$/],
    ];
    for (const [dict, message] of cases) {
      expect(checksDictionary(dict)).toBe(true);
      expect(() => ids.forWrite(dict)).toThrow(InputError);
      expect(() => ids.forWrite(dict)).toThrow(message);
    }
    // What the refused dictionaries taught the memo is still right.
    for (const d of [good(), good()]) expect(ids.of(d)).toEqual(dictionaryIds(d));
    // A dictionary with ids from a decode worker is not walked here: the write path validates it as before.
    const pre = good();
    attachPrecomputedIds(pre, precomputeIds(new ContentIds(false), pre));
    expect(checksDictionary(pre)).toBe(false);
  });

  it('remembers functions named by sliced strings and lone surrogates, and which stacks are stored', () => {
    const ids = new ContentIds();
    const build = () => {
      const b = new DictionaryBuilder();
      // A slice of a longer string (as `slice`-based decoders hand names over) and invalid UTF-16.
      const long = `${'x'.repeat(40)}github.com/acme/shop.(*Cart).Checkout${'y'.repeat(40)}`;
      const names = [long.slice(40, -40), '\ud800lonely', 'ok\udfff'];
      const locs = names.map((n, i) => b.location(-1, 0n, [{ function: b.function(n), line: i }]));
      b.stack(locs);
      b.stack([locs[2]!, locs[0]!]);
      return b.dict;
    };
    const first = build();
    const w1 = ids.forWrite(first);
    expect(Array.from(w1.stacks)).toEqual(dictionaryIds(first).stacks);
    expect(Array.from(w1.functions)).toEqual(dictionaryIds(first).functions);
    expect(Array.from(w1.stackStored)).toEqual([0, 0]);
    ids.markStored(w1.stacks[1]!);
    const second = build();
    const w2 = ids.forWrite(second);
    expect(Array.from(w2.functions)).toEqual(dictionaryIds(second).functions);
    expect(Array.from(w2.stacks)).toEqual(Array.from(w1.stacks));
    expect(Array.from(w2.stackStored)).toEqual([0, 1]);
    // Found again, not learned again: the memo's function entries did not grow with the second push.
    expect((ids as unknown as { entries: number }).entries).toBe(3 + 3);
  });

  it('takes ids hashed elsewhere (a decode worker) as they are, and a stack the decoder left out as stored as stored', () => {
    const b = new DictionaryBuilder();
    const locs = ['a', 'b', 'c'].map((n) => b.location(-1, 0n, [{ function: b.function(n), line: 1 }]));
    b.stack(locs);
    b.stack([locs[1]!]);
    b.stack([locs[2]!, locs[0]!]);
    const pre = precomputeIds(new ContentIds(false), b.dict);
    const fromWorker: SymbolDictionary = { ...b.dict, stacks: [b.dict.stacks[0]!, STORED_STACK, b.dict.stacks[2]!] };
    attachPrecomputedIds(fromWorker, pre);
    const ids = new ContentIds();
    ids.markStored(pre.stacks[2]!);
    const w = ids.forWrite(fromWorker);
    expect(Array.from(w.stacks)).toEqual(dictionaryIds(b.dict).stacks);
    // Stack 1 from the decoder's word alone (this memo never saw it stored), stack 2 from this memo's own.
    expect(Array.from(w.stackStored)).toEqual([0, 1, 1]);
  });
});

/** Every kind of entry the memo treats apart: one-line frames (first and further lines of a function),
 * no mapping, unsymbolized, inlined, non-ASCII text, lines past 2^32 and negative. Strings are built at
 * run time so each call hands over fresh string objects, as a decoder does. */
function goldenDictionary(): SymbolDictionary {
  const fresh = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
  const b = new DictionaryBuilder();
  const exe = b.mapping(fresh('/usr/bin/kiln-demo'), fresh('0123456789abcdef'));
  const libc = b.mapping(fresh('/lib/x86_64-linux-gnu/libc.so.6'), fresh('c0ffee'));
  const main = b.location(exe, 0x401000n, [{ function: b.function(fresh('main'), fresh('main'), fresh('main.c')), line: 12 }]);
  const serve = b.location(exe, 0x401200n, [{ function: b.function(fresh('serve'), fresh('_Z5servev'), fresh('serve.cc')), line: 40 }]);
  const serve2 = b.location(exe, 0x401280n, [{ function: b.function(fresh('serve'), fresh('_Z5servev'), fresh('serve.cc')), line: 47 }]);
  const noMap = b.location(-1, 0n, [{ function: b.function(fresh('runtime.goexit'), '', fresh('runtime/asm_amd64.s')), line: 1700 }]);
  const raw = b.location(libc, 0x7f00deadbeefn, []);
  const inl = b.location(libc, 0x10n, [
    { function: b.function(fresh('memcpy')), line: 3 },
    { function: b.function(fresh('outer'), '', fresh('o.c')), line: 9 },
  ]);
  const uni = b.location(exe, 0n, [{ function: b.function(fresh('naïve→ünïcode 函数'), fresh('sys'), fresh('fïle.rs')), line: 2 ** 40 }]);
  const neg = b.location(exe, 0n, [{ function: b.function(fresh('neg')), line: -5 }]);
  b.stack([raw, inl, serve, main]);
  b.stack([serve2, serve, main]);
  b.stack([noMap, uni, neg]);
  b.stack([main]);
  return b.dict;
}
