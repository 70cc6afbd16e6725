import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { decodePprof } from '../../src/formats/pprof.js';
import { decodePprofForStore } from '../../src/server/pprof-ingest.js';
import type { DecodeOptions } from '../../src/formats/options.js';
import { dictionaryIds, labelsFrom } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { InputError } from '../../src/model/index.js';
import { ContentIds } from '../../src/store/content-ids.js';
import { openDuckDB } from '../../src/store/index.js';
import { profileSamples } from '../../src/store/profile-rows.js';
import { STORED_STACK, StoredStacks, storedStacksOf } from '../../src/store/stored-stacks.js';
import { storeDigest } from '../support/store-digest.js';
import { pprofFiles } from '../support/testdata.js';

const T = Date.UTC(2026, 0, 10, 12);
const opts = (i: number): DecodeOptions => ({ labels: labelsFrom({ service_name: `corpus-${i}` }), timeMs: T });

/** What the store keeps of a decoded profile: everything but the dictionary, rows by content stack id. */
function stored(p: Profile): unknown {
  const ids = new ContentIds().forWrite(p.dict);
  const rows = profileSamples(p, ids.stackWords);
  return { type: p.type, labels: p.labels, timeMs: p.timeMs, durationNs: p.durationNs, period: p.period, rows, spans: p.spans?.spanIds.length };
}

describe('decodePprofForStore (content ids from the wire bytes)', () => {
  const files = pprofFiles();

  it('gives every corpus profile the rows, ids and fields decodePprof and the write path give', () => {
    expect(files.length).toBeGreaterThan(10);
    files.forEach((f, i) => {
      const bytes = readFileSync(f);
      const plain = decodePprof(bytes, opts(i));
      // Twice: the second decode finds everything in the thread's memo.
      for (const pass of [1, 2]) {
        const reduced = decodePprofForStore(bytes, opts(i));
        expect(reduced.map(stored), `${path.basename(f)} pass ${pass}`).toEqual(plain.map(stored));
        // Nothing is known stored: every stack comes with its frames, and they hash to the ids attached.
        const dict = reduced[0]!.dict;
        expect(dict.stacks.some((s) => s === STORED_STACK)).toBe(false);
        expect(Array.from(new ContentIds().forWrite(dict).stacks)).toEqual(dictionaryIds(dict).stacks);
      }
    });
  });

  it('finds samples\' locations by any pprof id: dense, past the dense table (huge ids), and refuses an id no location has', () => {
    let data = readFileSync(files.find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
    const raw = PprofProfile.decode(data);
    expect(raw.location.length).toBeGreaterThan(4);
    // Every other location moves to an id far past 4 x the count (+1024), where the dense table stops.
    const moved = new Map<number, number>();
    raw.location.forEach((l, k) => {
      if (k % 2 === 1) moved.set(Number(l.id), 2 ** 40 + k);
    });
    for (const l of raw.location) l.id = moved.get(Number(l.id)) ?? l.id;
    for (const s of raw.sample) s.locationId = s.locationId.map((id) => moved.get(Number(id)) ?? id);
    const sparse = raw.encode();
    const plain = decodePprof(sparse, opts(0));
    // Twice: the second decode finds everything in the thread's memo.
    for (const pass of [1, 2]) expect(decodePprofForStore(sparse, opts(0)).map(stored), `pass ${pass}`).toEqual(plain.map(stored));
    for (const unknown of [999_999, 2 ** 40 + raw.location.length + 5]) {
      raw.sample[0]!.locationId = [unknown];
      const bad = raw.encode();
      expect(() => decodePprofForStore(bad, opts(0))).toThrow(InputError);
      expect(() => decodePprofForStore(bad, opts(0))).toThrow(new RegExp(`unknown location ${unknown}`));
    }
  });

  it('leaves out the frames of stacks known stored, and only those', () => {
    const bytes = readFileSync(files.find((f) => f.endsWith('pyroscope-heap'))!);
    const first = decodePprofForStore(bytes, opts(0));
    const ids = new ContentIds().forWrite(first[0]!.dict);
    const known = new StoredStacks(new SharedArrayBuffer(3 * 4 * (1 << 16)));
    // Half of the stacks stored.
    for (let s = 0; s < ids.stacks.length; s += 2) known.add(ids.stackWords[2 * s]!, ids.stackWords[2 * s + 1]!);
    const again = decodePprofForStore(bytes, opts(0), known);
    expect(again.map(stored)).toEqual(first.map(stored));
    const dict = again[0]!.dict;
    const again64 = new ContentIds().forWrite(dict);
    const model = dictionaryIds(dict).stacks;
    let left = 0;
    dict.stacks.forEach((s, i) => {
      const isKnown = known.has(again64.stackWords[2 * i]!, again64.stackWords[2 * i + 1]!);
      expect(s === STORED_STACK).toBe(isKnown);
      if (s === STORED_STACK) left++;
      else expect(again64.stacks[i]).toBe(model[i]);
    });
    expect(left).toBeGreaterThan(0);
    expect(dict.functions.length).toBeLessThan(first[0]!.dict.functions.length);
  });

  it('stores the same merges, series and resolved symbols as decodePprof over the corpus, also when stacks are left out as stored', async () => {
    const dirs = [await mkdtemp(path.join(os.tmpdir(), 'kiln-pprof-a-')), await mkdtemp(path.join(os.tmpdir(), 'kiln-pprof-b-'))];
    const [a, b] = [await openDuckDB(dirs[0]!, { threads: 1 }), await openDuckDB(dirs[1]!, { threads: 1 })];
    try {
      // Two rounds with new series each: the second finds its stacks stored (left out by the reducer).
      for (const round of [0, 1]) {
        for (const [i, f] of files.entries()) {
          const bytes = readFileSync(f);
          const o: DecodeOptions = { labels: labelsFrom({ service_name: `corpus-${i}`, round: `${round}` }), timeMs: T + round * 60_000 };
          await a.write('t', decodePprof(bytes, o));
          await b.write('t', decodePprofForStore(bytes, o, storedStacksOf(b)));
        }
      }
      const leftOut = decodePprofForStore(readFileSync(files[0]!), opts(0), storedStacksOf(b))[0]!.dict.stacks;
      // A lossy set (stored-stacks.ts): nearly all, not surely all.
      expect(leftOut.filter((s) => s === STORED_STACK).length).toBeGreaterThan(0.95 * leftOut.length);
      const expected = (await storeDigest(a, 't')) as { series: unknown[] };
      expect(expected.series.length).toBeGreaterThan(files.length);
      expect(await storeDigest(b, 't')).toEqual(expected);
    } finally {
      await a.close();
      await b.close();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  }, 120_000);
});
