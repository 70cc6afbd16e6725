import { DictionaryBuilder, labelsFrom } from '../../src/model/index.js';
import type { Profile, ProfileType } from '../../src/model/index.js';
import type { Store } from '../../src/store/store.js';
import { EngineStore } from '../../src/store/engine-store.js';
import { MemoryEngine } from '../store/memory-engine.js';
import type { Frame, WeightedStack } from '../../src/query/stacks.js';
import { CPU_TYPE } from '../../src/model/index.js';
import type { FlameNode } from '../../src/query/tree.js';

/**
 * Hand-made stacks in folded form: `{ 'main;work;hash': 30 }`, root first. A frame written
 * `libc.so!memcpy` lives in binary `libc.so`; others have no binary.
 */
export function folded(stacks: Record<string, number>): WeightedStack[] {
  // Frames with a name and a binary only (no address, file or location), as these tests always built them.
  return Object.entries(stacks).map(([k, value]): WeightedStack => ({
    frames: k === '' ? [] : k.split(';').map((f) => {
      const bang = f.indexOf('!');
      return (bang < 0 ? { name: f, binary: '' } : { name: f.slice(bang + 1), binary: f.slice(0, bang) }) as Frame;
    }),
    value,
  }));
}

/** A Profile from folded stacks (same `binary!fn` spelling), for writing into a store. */
export function profileOf(
  stacks: Record<string, number>,
  opts: { labels?: Record<string, string>; timeMs?: number; type?: ProfileType } = {},
): Profile {
  const b = new DictionaryBuilder();
  const idx: number[] = [];
  const values: number[] = [];
  for (const [k, v] of Object.entries(stacks)) {
    const locs = k.split(';').map((f) => {
      const bang = f.indexOf('!');
      return bang < 0 ? b.frame(f) : b.frame(f.slice(bang + 1), b.mapping(f.slice(0, bang)));
    });
    idx.push(b.stack(locs.reverse()));
    values.push(v);
  }
  return {
    type: opts.type ?? CPU_TYPE,
    labels: labelsFrom(opts.labels ?? { service_name: 'app' }),
    timeMs: opts.timeMs ?? 1_700_000_000_000,
    durationNs: 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks: idx,
    values,
  };
}

/** A Store over the in-memory test engine, which passes the Store contract (test/store/memory.test.ts). */
export function memoryStore(): Promise<Store> {
  return EngineStore.open(new MemoryEngine());
}

/** The hand-made profile most query tests use; total 77. */
export const SAMPLE = {
  'main;work;hash': 30,
  'main;work': 10,
  'main;idle': 5,
  'main;work;libc.so!memcpy': 20,
  'main;gc;libc.so!memcpy': 8,
  'main;rec;rec;hash': 4,
};

/** shape() of the tree SAMPLE merges into. */
export const SAMPLE_SHAPE = {
  'total 77/0': [
    {
      'main 77/0': [
        { 'gc 8/0': ['memcpy 8/8'] },
        'idle 5/5',
        { 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] },
        { 'work 60/10': ['hash 30/30', 'memcpy 20/20'] },
      ],
    },
  ],
};

/** A compact picture of a tree: `name total/self` and children, for exact comparisons. */
export function shape(n: FlameNode): unknown {
  const head = `${n.name} ${n.total}/${n.self}`;
  return n.children.length === 0 ? head : { [head]: n.children.map(shape) };
}

