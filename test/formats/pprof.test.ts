import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Label, Profile as PprofProfile, Sample } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { decodePprof, EmptyProfileError, encodePprof, encodePprofGzip, MAX_LABEL_SETS } from '../../src/formats/pprof.js';
import { DEFAULT_MAX_DECOMPRESSED } from '../../src/formats/compression.js';
import { frameNames, InputError, labelsFrom, profileTotal, profileTypeId } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { pprofFiles } from '../support/testdata.js';

/** Read with pprof-format only, no Kiln code: the independent side of every comparison. */
function readRaw(file: string): PprofProfile {
  let data = readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
  return PprofProfile.decode(data);
}
const int64 = (v: number | bigint): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : v);

/** Sum per sample type name, straight from the file. */
function independentTotals(raw: PprofProfile): Map<string, number> {
  const s = raw.stringTable.strings;
  const out = new Map<string, number>();
  raw.sampleType.forEach((t, i) => {
    let sum = 0;
    for (const sample of raw.sample) sum += int64(sample.value[i]!);
    const name = s[Number(t.type)]!.replace(/-/g, '_');
    if (sum !== 0 || raw.sample.some((x) => int64(x.value[i]!) !== 0)) out.set(name, (out.get(name) ?? 0) + sum);
  });
  return out;
}

function decodedTotals(profiles: Profile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of profiles) out.set(p.type.sampleType, (out.get(p.type.sampleType) ?? 0) + profileTotal(p));
  return out;
}

/** The type ids a Pyroscope user expects for each corpus file. */
const EXPECTED_TYPES: Record<string, string[]> = {
  'pyroscope-cpu.pprof': ['process_cpu:samples:count:cpu:nanoseconds', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'],
  'parca-fib.pb.gz': ['process_cpu:samples:count:cpu:nanoseconds', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'],
  'pyroscope-heap': [
    'memory:alloc_objects:count:space:bytes',
    'memory:alloc_space:bytes:space:bytes',
    'memory:inuse_objects:count:space:bytes',
    'memory:inuse_space:bytes:space:bytes',
  ],
  'parca-fgprof.pb.gz': ['wall:samples:count:wallclock:nanoseconds', 'wall:time:nanoseconds:wallclock:nanoseconds'],
  'parca-node-profile.pb.gz': ['process_cpu:samples:count:cpu:nanoseconds'],
  // The Ruby agent writes no period type: it stays blank, as in Pyroscope.
  'pyroscope-profile_ruby': ['process_cpu:samples:count::milliseconds'],
  'pyroscope-dotnet.labels.pprof': [
    'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    'memory:alloc_samples:count:cpu:nanoseconds',
    'memory:alloc_size:bytes:cpu:nanoseconds',
  ],
};

describe('decodePprof on every corpus file', () => {
  for (const file of pprofFiles()) {
    const name = path.basename(file);
    it(`${path.relative(path.dirname(path.dirname(file)), file)}: totals per type equal pprof-format's own sums`, () => {
      const profiles = decodePprof(readFileSync(file));
      expect(profiles.length).toBeGreaterThan(0);
      expect(decodedTotals(profiles)).toEqual(independentTotals(readRaw(file)));
      for (const p of profiles) {
        expect(profileTypeId(p.type)).toMatch(/^[a-z_]+:[a-z_]+:[a-z_]+:[a-z_]*:[a-z_]*$/);
        expect(p.values.every((v) => v !== 0)).toBe(true);
      }
      const want = EXPECTED_TYPES[name];
      if (want) expect([...new Set(profiles.map((p) => profileTypeId(p.type)))]).toEqual(want);
    });
  }

  it('splits samples by pprof string labels into series labels, merged under the request labels', () => {
    const file = pprofFiles().find((f) => f.endsWith('parca-profile-with-labels.pb.gz'))!;
    const profiles = decodePprof(readFileSync(file), { labels: labelsFrom({ service_name: 'parca', thread_name: 'override' }) });
    expect(profiles.length).toBeGreaterThan(1);
    for (const p of profiles) {
      expect(p.labels.find((l) => l.name === 'service_name')?.value).toBe('parca');
      expect(p.labels.find((l) => l.name === 'thread_name')?.value).toBe('override');
      expect(p.labels.some((l) => l.name === 'thread_id')).toBe(true);
    }
    // Each thread_id is its own series, and the split loses nothing.
    const threads = new Set(profiles.map((p) => p.labels.find((l) => l.name === 'thread_id')!.value));
    expect(threads.size).toBe(profiles.length);
    expect(decodedTotals(profiles)).toEqual(independentTotals(readRaw(file)));
  });

  it('keeps time, duration and period from the file', () => {
    const file = pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!;
    const raw = readRaw(file);
    const [p] = decodePprof(readFileSync(file));
    expect(p!.timeMs).toBe(Math.floor(Number(raw.timeNanos) / 1e6));
    expect(p!.durationNs).toBe(Number(raw.durationNanos));
    expect(p!.period).toBe(Number(raw.period));
  });

  it('keeps mappings (file + build id), addresses, function file names and inlined frames', () => {
    // Find a corpus location with inlined lines, and check it survives with all its frames in order.
    for (const file of pprofFiles()) {
      const raw = readRaw(file);
      const s = raw.stringTable.strings;
      const loc = raw.location.find((l) => l.line.length > 1 && Number(l.mappingId) !== 0);
      if (!loc) continue;
      const fnName = (id: number | bigint) => s[Number(raw.function.find((f) => f.id == id)!.name)]!;
      const want = loc.line.map((l) => fnName(l.functionId));
      const mapping = raw.mapping.find((m) => m.id == loc.mappingId)!;
      const [p] = decodePprof(readFileSync(file));
      const got = p!.dict.locations.find((l) => l.lines.length === want.length && frameNames(p!.dict, p!.dict.locations.indexOf(l)).join() === want.join());
      expect(got, `inlined location of ${file}`).toBeDefined();
      const m = p!.dict.mappings[got!.mapping]!;
      expect(m.binary).toBe(s[Number(mapping.filename)]);
      expect(m.buildId).toBe(s[Number(mapping.buildId)]);
      expect(p!.dict.functions[got!.lines[0]!.function]!.file).toBe(s[Number(raw.function.find((f) => f.id == loc.line[0]!.functionId)!.filename)]);
      return;
    }
    throw new Error('no corpus pprof has an inlined location: the corpus changed');
  });

  it('names types from the name= suffix when the profile measures one kind of thing', () => {
    const file = pprofFiles().find((f) => f.endsWith('parca-node-profile.pb.gz'))!;
    const [p] = decodePprof(readFileSync(file), { name: 'checkout.wall' });
    expect(profileTypeId(p!.type)).toBe('wall:samples:count:cpu:nanoseconds');
  });
});

describe('decodePprof sums the samples of one stack', () => {
  it('into one row per stack and label set, whatever numeric labels tell them apart, past the first 64 stacks too', () => {
    const raw = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    // 100 stacks of two frames from the file's first ten locations.
    const locations = raw.location.slice(0, 10).map((l) => Number(l.id));
    expect(locations.length).toBe(10);
    const stacks = locations.flatMap((a) => locations.map((b) => [a, b]));
    const nTypes = raw.sampleType.length;
    const num = raw.stringTable.dedup('bytes');
    const key = raw.stringTable.dedup('request');
    const str = raw.stringTable.dedup('r1');
    // Every stack three times without a string label (numeric labels differ), once more under request=r1.
    raw.sample = stacks.flatMap((locationId, i) => [
      ...[1, 2, 3].map((k) => new Sample({ locationId, value: Array.from({ length: nTypes }, () => i + k), label: [new Label({ key: num, num: k })] })),
      new Sample({ locationId, value: Array.from({ length: nTypes }, () => 1000), label: [new Label({ key, str })] }),
    ]);
    const profiles = decodePprof(raw.encode());
    const plain = profiles.filter((p) => !p.labels.some((l) => l.name === 'request'));
    const tagged = profiles.filter((p) => p.labels.some((l) => l.name === 'request'));
    expect(plain.length).toBe(nTypes);
    expect(tagged.length).toBe(nTypes);
    for (const p of plain) {
      expect(p.stacks.length).toBe(stacks.length);
      expect(new Set(p.stacks).size).toBe(stacks.length);
      expect(p.values).toEqual(stacks.map((_, i) => 3 * i + 6));
    }
    for (const p of tagged) expect(p.values).toEqual(stacks.map(() => 1000));
  });
});

describe('decodePprof sums a stack met late in one label set', () => {
  it('into one row, when its first sample came before that label set had many rows', () => {
    const raw = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    // 841 stacks of two frames from the file's 29 locations: their indices run to 840 (past 8 × 65).
    const locations = raw.location.slice(0, 29).map((l) => Number(l.id));
    expect(locations.length).toBe(29);
    const stacks = locations.flatMap((a) => locations.map((b) => [a, b]));
    const nTypes = raw.sampleType.length;
    const key = raw.stringTable.dedup('request');
    const str = raw.stringTable.dedup('r1');
    const sample = (locationId: number[], v: number, tagged: boolean) =>
      new Sample({ locationId, value: Array.from({ length: nTypes }, () => v), label: tagged ? [new Label({ key, str })] : [] });
    const last = stacks[stacks.length - 1]!;
    // Every stack once untagged (so the last one's index is 840), then under request=r1: the last stack
    // first, every other stack, and the last stack again.
    raw.sample = [...stacks.map((st) => sample(st, 1, false)), sample(last, 5, true), ...stacks.slice(0, -1).map((st) => sample(st, 2, true)), sample(last, 7, true)];
    const tagged = decodePprof(raw.encode()).filter((p) => p.labels.some((l) => l.name === 'request'));
    expect(tagged.length).toBe(nTypes);
    for (const p of tagged) {
      expect(p.stacks.length).toBe(stacks.length);
      expect(new Set(p.stacks).size).toBe(stacks.length);
      expect(p.values.reduce((a, b) => a + b, 0)).toBe(2 * (stacks.length - 1) + 12);
      expect(p.values).toContain(12);
    }
  });
});

describe('encodePprof', () => {
  it('round-trips every type of a corpus profile: same stacks, same values, readable by pprof-format', () => {
    const file = pprofFiles().find((f) => f.endsWith('pyroscope-heap'))!;
    for (const p of decodePprof(readFileSync(file))) {
      const bytes = encodePprof(p);
      const raw = PprofProfile.decode(bytes);
      expect(raw.sampleType.length).toBe(1);
      const [back] = decodePprof(bytes);
      expect(profileTypeId(back!.type)).toBe(profileTypeId(p.type));
      expect(foldedMap(back!)).toEqual(foldedMap(p));
      expect(back!.timeMs).toBe(p.timeMs);
      const [gz] = decodePprof(encodePprofGzip(p));
      expect(profileTotal(gz!)).toBe(profileTotal(p));
    }
  });
});

function foldedMap(p: Profile): Map<string, number> {
  const out = new Map<string, number>();
  p.stacks.forEach((s, i) => {
    const key = p.dict.stacks[s]!.map((l) => frameNames(p.dict, l).join('|') + '@' + p.dict.locations[l]!.address).join(';');
    out.set(key, (out.get(key) ?? 0) + p.values[i]!);
  });
  return out;
}

describe('decodePprof rejects bad input with InputError', () => {
  // Uncompressed, so truncations cut protobuf, not gzip.
  const good = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!).encode();
  const expectInputError = (fn: () => unknown, status: number, message: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).status).toBe(status);
    expect((err as InputError).message).toMatch(message);
  };

  it('empty payload', () => expectInputError(() => decodePprof(new Uint8Array()), 400, /empty/));
  it('garbage bytes', () => expectInputError(() => decodePprof(Buffer.from('this is not a profile at all, just text')), 400, /pprof/));
  it('every truncation of a real profile', () => {
    // Each prefix either fails as InputError or decodes consistently; none may throw anything else.
    for (let n = 1; n < good.length; n += Math.max(1, Math.floor(good.length / 200))) {
      try {
        decodePprof(good.subarray(0, n));
      } catch (e) {
        expect(e, `prefix of ${n} bytes`).toBeInstanceOf(InputError);
      }
    }
    expectInputError(() => decodePprof(good.subarray(0, Math.floor(good.length / 2))), 400, /pprof|samples/);
  });
  it('truncated gzip', () => expectInputError(() => decodePprof(gzipSync(good).subarray(0, 40)), 400, /gzip/));
  it('gzip bomb past the cap', () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    expectInputError(() => decodePprof(bomb, { maxDecompressed: 1024 * 1024 }), 413, /exceeds 1048576 bytes/);
    expect(DEFAULT_MAX_DECOMPRESSED).toBe(64 * 1024 * 1024);
  });
  it('a profile with no samples', () => {
    const empty = new PprofProfile({ sampleType: [], stringTable: undefined }).encode();
    expectInputError(() => decodePprof(empty), 400, /no sample types/);
    const raw = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    raw.sample = [];
    expectInputError(() => decodePprof(raw.encode()), 400, /no samples/);
    // Told apart from broken input, so ingest can accept what idle SDKs push.
    expect(() => decodePprof(raw.encode())).toThrow(EmptyProfileError);
    expect(() => decodePprof(Buffer.from('garbage that is not protobuf'))).not.toThrow(EmptyProfileError);
  });
  it('a sample pointing at a location that does not exist', () => {
    const raw = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    raw.sample[0]!.locationId = [999999];
    expectInputError(() => decodePprof(raw.encode()), 400, /unknown location 999999/);
  });
  it('a profile that would split into too many series', () => {
    const raw = readRaw(pprofFiles().find((f) => f.endsWith('pyroscope-cpu.pprof'))!);
    const key = raw.stringTable.dedup('request');
    const base = raw.sample[0]!;
    raw.sample = Array.from(
      { length: MAX_LABEL_SETS + 1 },
      (_, i) => new Sample({ locationId: base.locationId, value: base.value, label: [new Label({ key, str: raw.stringTable.dedup(`r${i}`) })] }),
    );
    expectInputError(() => decodePprof(raw.encode()), 400, /label sets/);
  });
});
