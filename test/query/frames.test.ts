import { describe, expect, it } from 'vitest';
import { DictionaryBuilder } from '../../src/model/index.js';
import type { Frame } from '../../src/query/stacks.js';
import { UNRESOLVED_STACK, weightedStacks } from '../../src/query/stacks.js';
import { buildTree } from '../../src/query/tree.js';
import { topTable } from '../../src/query/top.js';

/** What a user reads off a frame: function, where it lives, and whether it was inlined. */
const where = (f: Frame) => ({
  name: f.name,
  binary: f.binary,
  buildId: f.buildId,
  address: f.address,
  file: f.file,
  line: f.line,
  inlined: f.inlined,
  symbolized: f.symbolized,
});

/** One stack: main → outer (with inner inlined at 0x10, in libfoo) → an unsymbolized libfoo address. */
function sample() {
  const b = new DictionaryBuilder();
  const lib = b.mapping('/usr/lib/libfoo.so', 'abc123');
  const app = b.mapping('/usr/bin/app', 'feed');
  const main = b.location(app, 0x400n, [{ function: b.function('main', '', 'main.c'), line: 12 }]);
  // One address holding `inner` inlined into `outer`: pprof lists innermost first.
  const inl = b.location(lib, 0x10n, [
    { function: b.function('inner', '_Z5innerv', 'foo.cc'), line: 3 },
    { function: b.function('outer', '', 'foo.cc'), line: 9 },
  ]);
  const raw = b.location(lib, 0x1234n, []);
  const s = b.stack([raw, inl, main]); // leaf first
  return { dict: b.dict, stacks: new Map([[11n, s]]) };
}

describe('weightedStacks: symbols to frames that carry their locations', () => {
  it('expands inlined lines caller first, each frame with binary, build id, address, file and line', () => {
    const [s] = weightedStacks([{ stackId: 11n, value: 7 }], sample());
    expect(s!.value).toBe(7);
    expect(s!.frames.map(where)).toEqual([
      { name: 'main', binary: '/usr/bin/app', buildId: 'feed', address: 0x400n, file: 'main.c', line: 12, inlined: false, symbolized: true },
      { name: 'outer', binary: '/usr/lib/libfoo.so', buildId: 'abc123', address: 0x10n, file: 'foo.cc', line: 9, inlined: false, symbolized: true },
      { name: 'inner', binary: '/usr/lib/libfoo.so', buildId: 'abc123', address: 0x10n, file: 'foo.cc', line: 3, inlined: true, symbolized: true },
      { name: 'libfoo.so+0x1234', binary: '/usr/lib/libfoo.so', buildId: 'abc123', address: 0x1234n, file: '', line: 0, inlined: false, symbolized: false },
    ]);
    expect(s!.frames[2]!.systemName).toBe('_Z5innerv');
    // The two frames of the inlined location come from one location of the merge.
    expect(s!.frames[1]!.location).toBe(s!.frames[2]!.location);
  });

  it('keeps the value of a stack the store could not resolve, and drops zero rows', () => {
    const out = weightedStacks([{ stackId: 11n, value: 7 }, { stackId: 99n, value: 3 }, { stackId: 11n, value: 0 }], sample());
    expect(out.map((s) => [s.frames.map((f) => f.name).join(';'), s.value])).toEqual([
      ['main;outer;inner;libfoo.so+0x1234', 7],
      [UNRESOLVED_STACK, 3],
    ]);
  });

  it('trees and tables still group by function name alone', () => {
    // Two stacks through `work` at different lines and addresses: one node and one row for `work`.
    const b = new DictionaryBuilder();
    const f = b.function('work', '', 'w.go');
    const main = b.frame('main');
    const s1 = b.stack([b.location(-1, 0x1n, [{ function: f, line: 10 }]), main]);
    const s2 = b.stack([b.location(-1, 0x2n, [{ function: f, line: 20 }]), main]);
    const stacks = weightedStacks(
      [{ stackId: 1n, value: 5 }, { stackId: 2n, value: 6 }],
      { dict: b.dict, stacks: new Map([[1n, s1], [2n, s2]]) },
    );
    expect(stacks[0]!.frames[1]!.line).toBe(10);
    expect(stacks[1]!.frames[1]!.line).toBe(20);
    const tree = buildTree(stacks);
    expect(tree.children[0]!.children.map((c) => [c.name, c.total])).toEqual([['work', 11]]);
    expect(topTable(stacks).entries.find((e) => e.name === 'work')).toEqual({ name: 'work', self: 11, total: 11 });
  });
});
