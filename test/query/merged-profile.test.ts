import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePprof } from '../../src/formats/pprof.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, profileTypeId } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { QueryEngine } from '../../src/query/engine.js';
import { openStore } from '../../src/store/index.js';
import type { SeriesQuery, Store } from '../../src/store/store.js';

const T = Date.UTC(2024, 4, 1, 12);
const CPU = profileTypeId(CPU_TYPE);

/**
 * A profile as a native agent sends it: build ids, addresses, files and lines, a location holding an
 * inlined call, an unsymbolized address, and recursion (the same location twice in a row).
 */
function nativeProfile(): Profile {
  const b = new DictionaryBuilder();
  const app = b.mapping('/usr/bin/app', 'feedbeef');
  const libc = b.mapping('/usr/lib/libc.so.6', 'c0ffee');
  const fn = (name: string, file: string) => b.function(name, `_Z${name}`, file);
  const main = b.location(app, 0x1000n, [{ function: fn('main', 'main.cc'), line: 10 }]);
  const serve = b.location(app, 0x1100n, [
    { function: fn('parse', 'parse.cc'), line: 42 }, // inlined into serve
    { function: fn('serve', 'serve.cc'), line: 7 },
  ]);
  const rec = b.location(app, 0x1200n, [{ function: fn('walk', 'tree.cc'), line: 3 }]);
  const memcpy = b.location(libc, 0x9abcn, []);
  const stacks = [
    b.stack([serve, main]), // leaf first
    b.stack([memcpy, serve, main]),
    b.stack([memcpy, rec, rec, main]),
  ];
  return {
    type: CPU_TYPE,
    labels: labelsFrom({ service_name: 'native' }),
    timeMs: T,
    durationNs: 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks,
    values: [30, 20, 5],
  };
}

interface ExportedSample {
  value: number;
  /** Leaf first, as pprof lists them: each location with its mapping and lines. */
  locations: { binary: string; buildId: string; address: bigint; lines: string[] }[];
}

/** Decodes an export with pprof-format (not Kiln's decoder) into what a pprof user would see. */
function exported(p: Profile): ExportedSample[] {
  const pp = PprofProfile.decode(encodePprof(p));
  const str = (i: number | bigint) => pp.stringTable.strings[Number(i)]!;
  const mapping = new Map(pp.mapping.map((m) => [Number(m.id), m]));
  const fn = new Map(pp.function.map((f) => [Number(f.id), f]));
  const loc = new Map(pp.location.map((l) => [Number(l.id), l]));
  const out = pp.sample.map((s) => ({
    value: Number(s.value[0]),
    locations: s.locationId.map((id) => {
      const l = loc.get(Number(id))!;
      const m = mapping.get(Number(l.mappingId));
      return {
        binary: m ? str(m.filename) : '',
        buildId: m ? str(m.buildId) : '',
        address: BigInt(l.address),
        lines: l.line.map((ln) => {
          const f = fn.get(Number(ln.functionId))!;
          return `${str(f.name)} (${str(f.systemName)}) ${str(f.filename)}:${Number(ln.line)}`;
        }),
      };
    }),
  }));
  return out.sort((a, b) => b.value - a.value);
}

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-merged-profile-'));
let store: Store;
let engine: QueryEngine;
const q: SeriesQuery = { tenant: 'acme', selector: { profileType: CPU, matchers: [] }, from: T - 60_000, to: T + 60_000 };

beforeAll(async () => {
  store = await openStore(dir, { threads: 1 });
  engine = new QueryEngine(store);
  await store.write('acme', [nativeProfile()]);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pprof export of a merge', () => {
  it('keeps mappings, build ids, addresses, inlined lines, files and unsymbolized frames', async () => {
    const samples = exported(await engine.mergeProfile(q));
    expect(samples.map((s) => s.value)).toEqual([30, 20, 5]);
    const serve = { binary: '/usr/bin/app', buildId: 'feedbeef', address: 0x1100n, lines: ['parse (_Zparse) parse.cc:42', 'serve (_Zserve) serve.cc:7'] };
    const main = { binary: '/usr/bin/app', buildId: 'feedbeef', address: 0x1000n, lines: ['main (_Zmain) main.cc:10'] };
    const memcpy = { binary: '/usr/lib/libc.so.6', buildId: 'c0ffee', address: 0x9abcn, lines: [] };
    const walk = { binary: '/usr/bin/app', buildId: 'feedbeef', address: 0x1200n, lines: ['walk (_Zwalk) tree.cc:3'] };
    expect(samples[0]!.locations).toEqual([serve, main]);
    expect(samples[1]!.locations).toEqual([memcpy, serve, main]);
    expect(samples[2]!.locations).toEqual([memcpy, walk, walk, main]);
  });

  it('built from the stacks frames (a filter that drops nothing), the export is the same', async () => {
    const direct = exported(await engine.mergeProfile(q));
    const viaFrames = exported(await engine.mergeProfile(q, { hide: '^no such function$' }));
    expect(viaFrames).toEqual(direct);
  });

  it('honours the filters and the call site, as the flame graph does', async () => {
    const focused = await engine.mergeProfile(q, { focus: '^walk$' });
    const fg = await engine.flamegraph(q, { focus: '^walk$' });
    expect(focused.values.reduce((a, v) => a + v, 0)).toBe(fg.total);
    expect(fg.total).toBe(5);

    const hidden = exported(await engine.mergeProfile(q, { hide: '^parse$' }));
    // parse is gone from the inlined location; serve keeps its line, address and mapping.
    expect(hidden[0]!.locations[0]).toEqual({ binary: '/usr/bin/app', buildId: 'feedbeef', address: 0x1100n, lines: ['serve (_Zserve) serve.cc:7'] });

    const callSite = exported(await engine.mergeProfile(q, { callSite: ['main', 'serve', 'parse'] }));
    expect(callSite.map((s) => s.value)).toEqual([30, 20]);
  });
});
