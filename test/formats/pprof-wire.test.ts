import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Function as PprofFunction, Line, Location, Mapping, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { decodePprof } from '../../src/formats/pprof.js';
import { readPprof, scanPprof } from '../../src/formats/pprof-wire.js';
import { DictionaryBuilder, InputError } from '../../src/model/index.js';
import type { Line as ModelLine } from '../../src/model/index.js';
import { pprofFiles } from '../support/testdata.js';

/** pprof-format's reading of a file: the independent reference for Kiln's own wire reader. */
function reference(file: string): { raw: Uint8Array; pp: PprofProfile } {
  let raw: Uint8Array = readFileSync(file);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  return { raw, pp: PprofProfile.decode(raw) };
}
const int64 = (v: number | bigint): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : v);

describe('readPprof reads what pprof-format reads', () => {
  for (const file of pprofFiles()) {
    it(path.basename(file), () => {
      const { raw, pp } = reference(file);
      const m = readPprof(raw);
      expect(m.strings).toEqual(pp.stringTable.strings);
      expect(m.sampleTypes).toEqual(pp.sampleType.map((t) => ({ type: int64(t.type), unit: int64(t.unit) })));
      expect(m.period).toBe(int64(pp.period));
      expect(m.timeNanos).toBe(int64(pp.timeNanos));
      expect(m.durationNanos).toBe(int64(pp.durationNanos));
      expect(m.mappings).toEqual(pp.mapping.map((x) => ({ id: int64(x.id), filename: int64(x.filename), buildId: int64(x.buildId) })));
      expect(m.functions.ids).toEqual(pp.function.map((f) => int64(f.id)));
      expect(m.functions.names).toEqual(pp.function.map((f) => int64(f.name)));
      expect(m.functions.systemNames).toEqual(pp.function.map((f) => int64(f.systemName)));
      expect(m.functions.filenames).toEqual(pp.function.map((f) => int64(f.filename)));
      expect(m.locations.ids).toEqual(pp.location.map((l) => int64(l.id)));
      expect(m.locations.mappingIds).toEqual(pp.location.map((l) => int64(l.mappingId)));
      expect(m.locations.addresses).toEqual(pp.location.map((l) => BigInt.asUintN(64, BigInt(l.address))));
      expect(m.locations.lineFunctionIds).toEqual(pp.location.flatMap((l) => l.line.map((ln) => int64(ln.functionId))));
      expect(m.locations.lineNumbers).toEqual(pp.location.flatMap((l) => l.line.map((ln) => int64(ln.line))));
      expect(m.samples.map((s) => s.locationIds)).toEqual(pp.sample.map((s) => s.locationId.map(int64)));
      expect(m.samples.map((s) => s.values)).toEqual(pp.sample.map((s) => s.value.map(int64)));
      expect(m.samples.map((s) => s.labels)).toEqual(pp.sample.map((s) => s.label.filter((l) => int64(l.str) !== 0).flatMap((l) => [int64(l.key), int64(l.str)])));
    });
  }

  it('keeps negative int64 values and addresses past 2^53 exact', () => {
    const st = new StringTable();
    const p = new PprofProfile({
      sampleType: [new ValueType({ type: st.dedup('inuse_space'), unit: st.dedup('bytes') })],
      sample: [new Sample({ locationId: [1], value: [-4096] })],
      location: [new Location({ id: 1, address: 0xffff_ffff_8100_0000n })],
      stringTable: st,
    });
    const m = readPprof(p.encode());
    expect(m.samples[0]!.values).toEqual([-4096]);
    expect(m.locations.addresses).toEqual([0xffff_ffff_8100_0000n]);
  });

  it('reads each profile alone after a larger one (the scan reuses its columns from scan to scan)', () => {
    const profile = (samples: number, frames: number, first: number): Uint8Array => {
      const st = new StringTable();
      const location = Array.from({ length: frames }, (_, i) => new Location({ id: i + 1, line: [new Line({ functionId: i + 1, line: first + i })] }));
      const fn = Array.from({ length: frames }, (_, i) => new PprofFunction({ id: i + 1, name: st.dedup(`fn${first + i}`) }));
      const sample = Array.from({ length: samples }, (_, i) => new Sample({ locationId: [1 + (i % frames), 1 + ((i + 1) % frames)], value: [first + i] }));
      return new PprofProfile({ sampleType: [new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })], sample, location, function: fn, stringTable: st }).encode();
    };
    const big = readPprof(profile(3000, 500, 1000));
    expect(big.samples).toHaveLength(3000);
    const small = profile(3, 2, 7);
    const scan = scanPprof(small);
    // Copied-out columns are exactly their length, whatever a larger scan left in the reused ones.
    expect(scan.functions.ids).toEqual([1, 2]);
    expect(scan.locations.lineNumbers).toEqual([7, 8]);
    expect(scan.locations.lineStart).toEqual([0, 1, 2]);
    expect(scan.samples.locationStart).toEqual([0, 2, 4, 6]);
    expect(scan.samples.values).toEqual([7, 8, 9]);
    expect(scan.stringStart).toHaveLength(5);
    expect(readPprof(small).samples).toEqual([
      { locationIds: [1, 2], values: [7], labels: [] },
      { locationIds: [2, 1], values: [8], labels: [] },
      { locationIds: [1, 2], values: [9], labels: [] },
    ]);
    // The big profile's message, read before, is its own (readPprof copies what it keeps).
    expect(big.samples[2999]).toEqual({ locationIds: [1 + (2999 % 500), 1 + (3000 % 500)], values: [3999], labels: [] });
  });

  it('reads functions and locations with fields past 2^21, folded and multi-line locations, and a line cut short, as pprof-format does', () => {
    // Small fields take the reader's fast path; each of these leaves it (some after reading lines).
    const st = new StringTable();
    const name = st.dedup('main.work');
    const p = new PprofProfile({
      sampleType: [new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })],
      sample: [new Sample({ locationId: [1, 2 ** 22, 3, 4], value: [7] })],
      mapping: [new Mapping({ id: 1, filename: st.dedup('/bin/app') })],
      function: [
        new PprofFunction({ id: 1, name, systemName: name, filename: st.dedup('a.go'), startLine: 2 ** 40 }),
        new PprofFunction({ id: 2 ** 33, name, filename: 0 }),
      ],
      location: [
        new Location({ id: 1, mappingId: 1, address: 0x401000n, line: [new Line({ functionId: 1, line: 12 })] }),
        new Location({ id: 2 ** 22, line: [new Line({ functionId: 1, line: 3 }), new Line({ functionId: 2 ** 33, line: 2 ** 30 })] }),
        new Location({ id: 3, isFolded: true, line: [new Line({ functionId: 1, line: 4 }), new Line({ functionId: 1, line: 5 })] }),
        new Location({ id: 4, mappingId: 1, address: 0xffff_ffff_8100_0000n }),
      ],
      stringTable: st,
    });
    const raw = p.encode();
    const m = readPprof(raw);
    const pp = PprofProfile.decode(raw);
    expect(m.functions.ids).toEqual(pp.function.map((f) => int64(f.id)));
    expect(m.functions.names).toEqual([name, name]);
    expect(m.functions.systemNames).toEqual([name, 0]);
    expect(m.locations.ids).toEqual([1, 2 ** 22, 3, 4]);
    expect(m.locations.mappingIds).toEqual([1, 0, 0, 1]);
    expect(m.locations.addresses).toEqual([0x401000n, 0n, 0n, 0xffff_ffff_8100_0000n]);
    expect(m.locations.lineStart).toEqual([0, 1, 3, 5, 5]);
    expect(m.locations.lineFunctionIds).toEqual([1, 1, 2 ** 33, 1, 1]);
    expect(m.locations.lineNumbers).toEqual([12, 3, 2 ** 30, 4, 5]);
    // A location whose line claims more bytes than the location holds is refused, not read past.
    const loc = Uint8Array.from([0x22, 0x06, 0x08, 0x01, 0x22, 0x05, 0x08, 0x01]);
    expect(() => readPprof(loc)).toThrow(/runs past the end/);
  });

  it('rejects a nested message that runs past its parent as InputError', () => {
    // A sample (field 2) claiming 5 bytes whose location-id list (field 1) claims 9.
    const bad = Uint8Array.from([0x12, 0x05, 0x0a, 0x09, 0x01, 0x02, 0x03]);
    expect(() => readPprof(bad)).toThrow(InputError);
    expect(() => readPprof(bad)).toThrow(/runs past the end/);
  });

  it('rejects a top-level length past the end, unknown wire types and unterminated varints', () => {
    const truncated = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x01, 0x02]);
    expect(() => readPprof(truncated)).toThrow(/runs past the end/);
    expect(() => decodePprof(truncated)).toThrow(/not a valid pprof profile/);
    expect(() => readPprof(new Uint8Array([0x0f, 0x00]))).toThrow(/wire type 7/);
    // Field 7 (drop_frames) is a varint the reader skips; its value never ends.
    expect(() => readPprof(new Uint8Array([0x38, 0xff]))).toThrow(/varint/);
  });

  it('accepts a well-formed message with nothing but a sample type', () => {
    const st = new StringTable();
    const p = new PprofProfile({ sampleType: [new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })], stringTable: st });
    expect(readPprof(p.encode()).sampleTypes).toHaveLength(1);
  });
});

describe('decodePprof builds the dictionary DictionaryBuilder would', () => {
  /** The dictionary built the plain way (content keys) from pprof-format's reading. */
  function builderDictionary(pp: PprofProfile) {
    const s = pp.stringTable.strings;
    const b = new DictionaryBuilder();
    const mappings = new Map(pp.mapping.map((m) => [int64(m.id), b.mapping(s[int64(m.filename)]!, s[int64(m.buildId)]!)]));
    const broken = pp.function.length > 0 && pp.function.length === pp.location.length && pp.function.every((f) => int64(f.id) === 0);
    const functions = new Map(
      pp.function.map((f, i) => {
        const name = s[int64(f.name)]!;
        const system = s[int64(f.systemName)]!;
        return [broken ? int64(pp.location[i]!.id) : int64(f.id), b.function(name, system === name ? '' : system, s[int64(f.filename)]!)];
      }),
    );
    const locations = new Map(
      pp.location.map((l) => {
        const lines: ModelLine[] = l.line.map((ln) => ({ function: functions.get(int64(ln.functionId))!, line: int64(ln.line) }));
        const mid = int64(l.mappingId);
        return [int64(l.id), b.location(mid === 0 ? -1 : mappings.get(mid)!, BigInt.asUintN(64, BigInt(l.address)), lines)];
      }),
    );
    for (const sample of pp.sample) {
      if (sample.value.every((v) => int64(v) === 0)) continue;
      b.stack(sample.locationId.map((id) => locations.get(int64(id))!));
    }
    return b.dict;
  }

  for (const file of pprofFiles()) {
    it(path.basename(file), () => {
      const { pp } = reference(file);
      let decoded;
      try {
        decoded = decodePprof(readFileSync(file));
      } catch (e) {
        expect(pp.sample.every((s) => s.value.every((v) => int64(v) === 0)), String(e)).toBe(true);
        return;
      }
      expect(decoded[0]!.dict).toEqual(builderDictionary(pp));
    });
  }

  it('merges functions and one-line locations by content, also when names repeat with other files or lines', () => {
    const st = new StringTable();
    const fn = (id: number, name: string, file: string) => new PprofFunction({ id, name: st.dedup(name), systemName: st.dedup(name), filename: st.dedup(file) });
    const loc = (id: number, functionId: number, line: number, address: number) => new Location({ id, mappingId: 1, address, line: [new Line({ functionId, line })] });
    const p = new PprofProfile({
      sampleType: [new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })],
      mapping: [new Mapping({ id: 1, filename: st.dedup('/bin/app') })],
      // f1 and f3 are the same function; f2 shares the name with another file.
      function: [fn(1, 'work', 'a.go'), fn(2, 'work', 'b.go'), fn(3, 'work', 'a.go')],
      // l1/l3 are the same frame at two addresses; l2 another line; l4 the other file's function.
      location: [loc(1, 1, 10, 0x10), loc(2, 1, 11, 0x20), loc(3, 3, 10, 0x30), loc(4, 2, 10, 0x40)],
      sample: [1, 2, 3, 4].map((id) => new Sample({ locationId: [id], value: [id] })),
      stringTable: st,
    });
    const [profile] = decodePprof(p.encode());
    const dict = profile!.dict;
    expect(dict.functions).toEqual([
      { name: 'work', systemName: '', file: 'a.go' },
      { name: 'work', systemName: '', file: 'b.go' },
    ]);
    expect(dict.locations.map((l) => [l.lines[0]!.function, l.lines[0]!.line, l.address])).toEqual([
      [0, 10, 0x10n],
      [0, 11, 0x20n],
      [1, 10, 0x40n],
    ]);
    expect(dict.stacks).toEqual([[0], [1], [2]]);
    // Samples of l1 and l3 land on one stack: 1 + 3.
    expect(profile!.stacks.map((s, i) => [s, profile!.values[i]])).toEqual([[0, 4], [1, 2], [2, 4]]);
  });
});
