import { describe, expect, it } from 'vitest';
import { buildProfiles, KeptDictionary } from '../../src/agent/exporter-profiles.js';
import { OtlpRequestEncoder } from '../../src/agent/exporter-otlp.js';
import { decodeOtlpProtobuf } from '../../src/formats/otlp.js';
import type { ProcessLabeler, RawSample, Symbolizer, SymbolizerStats } from '../../src/agent/types.js';
import { frameNames, getLabel, labelsFrom, profileTypeId, type DictionaryBuilder } from '../../src/model/index.js';

/** Names frames by their address so tests can read stacks back. */
class NamingSymbolizer implements Symbolizer {
  observed: number[] = [];
  observe(pid: number): void {
    this.observed.push(pid);
  }
  symbolize(_pid: number, user: bigint[], kernel: bigint[], b: DictionaryBuilder): number[] {
    return [...kernel.map((a) => b.frame(`k${a}`)), ...user.map((a) => b.frame(`u${a}`))];
  }
  stats(): SymbolizerStats {
    return { frames: 0, symbolized: 0 };
  }
}

const labeler: ProcessLabeler = {
  labels: (pid, comm) => (comm === 'dropme' ? [] : labelsFrom({ service_name: comm, pid: String(pid) })),
};

const sample = (pid: number, comm: string, user: number[], count: number, kernel: number[] = [], kind: RawSample['kind'] = 'cpu'): RawSample => ({
  pid,
  kind,
  comm,
  userAddrs: user.map(BigInt),
  kernelAddrs: kernel.map(BigInt),
  count,
});

const window = { startMs: 1_700_000_000_000, endMs: 1_700_000_010_000 };

describe('buildProfiles', () => {
  it('makes one CPU profile per process, value = samples × period in ns', () => {
    const sym = new NamingSymbolizer();
    const { profiles } = buildProfiles(
      [sample(10, 'app', [3, 2, 1], 19), sample(20, 'db', [9], 38)],
      window,
      sym,
      labeler,
      { frequencyHz: 19, shareDictionary: true },
    );
    expect(profiles.map((p) => getLabel(p.labels, 'service_name')).sort()).toEqual(['app', 'db']);
    const app = profiles.find((p) => getLabel(p.labels, 'pid') === '10')!;
    expect(profileTypeId(app.type)).toBe('process_cpu:cpu:nanoseconds:cpu:nanoseconds');
    expect(app.period).toBeCloseTo(1e9 / 19);
    // 19 samples at 19 Hz = one second of CPU.
    expect(app.values).toEqual([1e9]);
    expect(app.timeMs).toBe(window.startMs);
    expect(app.durationNs).toBe(10e9);
    const names = app.dict.stacks[app.stacks[0]!]!.map((l) => frameNames(app.dict, l)[0]);
    expect(names).toEqual(['u3', 'u2', 'u1']);
    expect(sym.observed.sort()).toEqual([10, 20]);
  });

  it('merges rows of a process on the same stack into one', () => {
    const { profiles } = buildProfiles(
      [sample(7, 'server', [1, 2], 2), sample(7, 'server', [1, 2], 3), sample(7, 'server', [5], 1)],
      window,
      new NamingSymbolizer(),
      labeler,
      { frequencyHz: 100, shareDictionary: false },
    );
    expect(profiles).toHaveLength(1);
    expect(getLabel(profiles[0]!.labels, 'service_name')).toBe('server');
    expect([...profiles[0]!.values].sort((a, b) => a - b)).toEqual([1e7, 5e7]);
  });

  it('makes a separate off-CPU profile of nanoseconds blocked, with the same labels', () => {
    const { profiles } = buildProfiles(
      [sample(7, 'server', [1, 2], 10), sample(7, 'server', [3], 700_000_000, [], 'off_cpu'), sample(7, 'server', [3], 50_000_000, [], 'off_cpu')],
      window,
      new NamingSymbolizer(),
      labeler,
      { frequencyHz: 100, shareDictionary: true, offCpuPeriodNs: 10_000_000 },
    );
    expect(profiles.map((p) => profileTypeId(p.type)).sort()).toEqual(['off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds']);
    const off = profiles.find((p) => p.type.name === 'off_cpu')!;
    expect(off.values).toEqual([750_000_000]);
    expect(off.period).toBe(10_000_000);
    expect(off.labels).toEqual(profiles.find((p) => p.type.name === 'process_cpu')!.labels);
  });

  it('divides adaptive-sampled counts by the share kept, so values stay in CPU time', () => {
    const { profiles } = buildProfiles([sample(7, 'server', [1], 25)], window, new NamingSymbolizer(), labeler, {
      frequencyHz: 100,
      shareDictionary: true,
      keptShare: () => 0.25,
    });
    // 25 samples kept of ~100 at 100 Hz: one second of CPU.
    expect(profiles[0]!.values).toEqual([1e9]);
    expect(profiles[0]!.period).toBeCloseTo(4e7);
  });

  it('puts kernel frames on top of user frames (leaf first)', () => {
    const { profiles } = buildProfiles([sample(1, 'app', [2, 1], 1, [900, 901])], window, new NamingSymbolizer(), labeler, {
      frequencyHz: 19,
      shareDictionary: true,
    });
    const p = profiles[0]!;
    expect(p.dict.stacks[p.stacks[0]!]!.map((l) => frameNames(p.dict, l)[0])).toEqual(['k900', 'k901', 'u2', 'u1']);
  });

  it('drops processes the labeler drops, and counts their samples', () => {
    const built = buildProfiles([sample(1, 'dropme', [1], 4), sample(2, 'keep', [1], 1)], window, new NamingSymbolizer(), labeler, {
      frequencyHz: 19,
      shareDictionary: true,
    });
    expect(built.profiles).toHaveLength(1);
    expect(built.droppedSamples).toBe(4);
  });

  it('keeps the dictionary across intervals, while each OTLP request carries only what its own profiles use', () => {
    const kept = new KeptDictionary();
    const sym = new NamingSymbolizer();
    const first = [sample(10, 'app', [3, 2, 1], 19), sample(20, 'db', [9, 8], 38)];
    const second = [sample(10, 'app', [3, 2, 1], 7), sample(10, 'app', [4, 1], 2)];
    const opts = { frequencyHz: 19, shareDictionary: true, keptDictionary: kept };
    const one = buildProfiles(first, window, sym, labeler, opts).profiles;
    const two = buildProfiles(second, window, sym, labeler, opts).profiles;
    // One dictionary: the second interval added only its new frame (u4) and stack.
    expect(two[0]!.dict).toBe(one[0]!.dict);
    expect(kept.stats()).toMatchObject({ dictionaryLocations: 6, dictionaryStacks: 3, dictionaryResets: 0 });
    // The second request is the one a fresh dictionary gives, byte for byte: none of the first
    // interval's frames (db's u9, u8) travel, and the server decodes the same profile.
    const encoder = new OtlpRequestEncoder();
    encoder.encode(one);
    const bytes = encoder.encode(two);
    const alone = new OtlpRequestEncoder().encode(buildProfiles(second, window, new NamingSymbolizer(), labeler, { frequencyHz: 19, shareDictionary: true }).profiles);
    expect(Buffer.from(bytes).equals(Buffer.from(alone))).toBe(true);
    const [decoded] = decodeOtlpProtobuf(bytes);
    expect(decoded!.dict.functions.map((f) => f.name).sort()).toEqual(['u1', 'u2', 'u3', 'u4']);
    const stacks = decoded!.stacks.map((st, i) => `${decoded!.dict.stacks[st]!.map((l) => frameNames(decoded!.dict, l)[0]).join(';')} ${decoded!.values[i]}`);
    expect(stacks.sort()).toEqual([`u3;u2;u1 ${(7e9 / 19).toFixed(0)}`, `u4;u1 ${(2e9 / 19).toFixed(0)}`].sort());
  });

  it('past its bound, starts the next interval from the stacks used most recently (up to half the bound)', () => {
    const kept = new KeptDictionary(4);
    const sym = new NamingSymbolizer();
    const opts = { frequencyHz: 19, shareDictionary: true, keptDictionary: kept };
    const one = buildProfiles([sample(10, 'app', [3, 2, 1], 19)], window, sym, labeler, opts).profiles;
    expect(kept.stats()).toMatchObject({ dictionaryLocations: 3, dictionaryStacks: 1, dictionaryResets: 0 });
    buildProfiles([sample(10, 'app', [5], 1)], window, sym, labeler, opts);
    expect(kept.stats()).toMatchObject({ dictionaryLocations: 4, dictionaryStacks: 2, dictionaryResets: 0 });
    // 6 entries > 4: the copy keeps u5's stack (the latest used, 2 entries = half the bound), not the first.
    const three = buildProfiles([sample(10, 'app', [3, 2, 1], 19)], window, sym, labeler, opts).profiles;
    expect(three[0]!.dict).not.toBe(one[0]!.dict);
    expect(three[0]!.dict.stacks.map((st) => st.map((l) => frameNames(three[0]!.dict, l)[0]).join(';'))).toEqual(['u5', 'u3;u2;u1']);
    expect(kept.stats()).toMatchObject({ dictionaryLocations: 4, dictionaryStacks: 2, dictionaryResets: 1, dictionaryEvictedStacks: 1 });
  });
});
