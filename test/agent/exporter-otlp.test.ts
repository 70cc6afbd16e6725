import { describe, expect, it } from 'vitest';
import { OtlpRequestEncoder } from '../../src/agent/exporter-otlp.js';
import { OtlpContentNumbering } from '../../src/formats/otlp-content-numbering.js';
import { OtlpRequestDictionary } from '../../src/formats/otlp-request-dictionary.js';
import { OFF_CPU_TYPE } from '../../src/agent/exporter-profiles.js';
import { decodeOtlpProtobuf, encodeOtlpProtobuf } from '../../src/formats/otlp.js';
import { CPU_TYPE, DictionaryBuilder, frameNames, labelsFrom, type Profile } from '../../src/model/index.js';

/**
 * One interval as the agent builds it: one shared dictionary, a profile per process, and every kind of
 * frame the agent produces — kernel addresses past 2^53, unsymbolized frames, CPython frames with file
 * and line, JIT frames, names past 127 bytes and outside ASCII, values past 2^28 and 2^35, an off-CPU
 * profile (named by attribute), a process with its service name only, a zero value (left out).
 */
function interval(b = new DictionaryBuilder(), firstSeed = 7, count = 40): Profile[] {
  let seed = firstSeed;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const binaries = ['/usr/lib/x86_64-linux-gnu/libc.so.6', '[kernel.kallsyms]', '[python]', '[jit]', '[unknown]', '[vdso]', '/usr/bin/python3.11', '[anon]', '/opt/dïenst/ünï'];
  const profiles: Profile[] = [];
  for (let p = 0; p < count; p++) {
    const stacks: number[] = [];
    const values: number[] = [];
    for (let s = 0; s < 12; s++) {
      const locations: number[] = [];
      for (let d = 0; d < 10; d++) {
        const f = rnd(800);
        const binary = binaries[f % binaries.length]!;
        const address = binary.startsWith('[kernel') ? 0xffffffff81000000n + BigInt(f * 4) : BigInt(f * 16);
        const lines = f % 7 === 0 ? [] : [{ function: b.function(`fn_${f}_${'ß'.repeat(f % 90)}`, f % 5 ? '' : `_Z${f}v`, f % 4 ? '' : `/srv/app/m${f}.py`), line: f % 11 }];
        locations.push(b.location(b.mapping(binary, f % 3 ? `${(f % 30).toString(16).padStart(40, 'a')}` : ''), address, lines));
      }
      stacks.push(b.stack(locations));
      values.push(s === 0 && p % 10 === 0 ? 0 : p % 4 === 0 ? 2 ** (20 + rnd(20)) : (1e9 / 19) * (1 + rnd(5)));
    }
    const labels = p % 13 === 0 ? labelsFrom({ service_name: `only-name-${p}` }) : labelsFrom({ service_name: `svc-${p}`, pid: String(1000 + p), comm: `w${p}`, node: 'n1', cgroup: '', executable: `/usr/bin/x${p}` });
    profiles.push({ type: p % 3 ? CPU_TYPE : OFF_CPU_TYPE, labels, timeMs: 1_764_540_000_123 + p, durationNs: 10e9 + p, period: 1e9 / 19, dict: b.dict, stacks, values });
  }
  return profiles;
}

describe('the agent’s OTLP request encoder', () => {
  it('writes the same bytes as the OTLP codec for one interval of the agent’s profiles', () => {
    const profiles = interval();
    const bytes = new OtlpRequestEncoder().encode(profiles);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeOtlpProtobuf(profiles)))).toBe(true);
  });

  it('sends what the server decodes back: labels, types, frame names and totals per process', () => {
    const profiles = interval();
    const decoded = decodeOtlpProtobuf(new OtlpRequestEncoder().encode(profiles));
    const total = (p: Profile) => p.values.reduce((a, v) => a + Math.round(v), 0);
    const key = (p: Profile) => `${p.type.name} ${p.labels.map((l) => `${l.name}=${l.value}`).join(',')}`;
    const sent = new Map(profiles.map((p) => [key(p), total(p)]));
    expect(new Map(decoded.map((p) => [key(p), total(p)]))).toEqual(sent);
    // The kernel leaf keeps its full 64-bit address; a long non-ASCII name arrives whole.
    const names = new Set(decoded.flatMap((p) => p.stacks.flatMap((s) => p.dict.stacks[s]!.flatMap((l) => frameNames(p.dict, l)))));
    expect([...names].some((n) => /^\[kernel\.kallsyms\]\+0xffffffff81/.test(n) || /^kernel/.test(n))).toBe(true);
    expect([...names].some((n) => n.length > 80 && n.includes('ß'))).toBe(true);
  });

  it('can be used again: a later request does not change an earlier one’s bytes', () => {
    const enc = new OtlpRequestEncoder();
    const profiles = interval();
    const first = enc.encode(profiles);
    const copy = Buffer.from(first);
    enc.encode(profiles.slice(0, 3));
    expect(Buffer.from(first).equals(copy)).toBe(true);
    expect(Buffer.from(enc.encode(profiles)).equals(copy)).toBe(true);
  });

  it('keeps numbering entries across requests: each request over a growing kept dictionary is still the codec’s, byte for byte', () => {
    // A bound of 500 locations + stacks is passed by the second interval: the numbering starts over.
    const numbering = new OtlpContentNumbering(500);
    const enc = new OtlpRequestEncoder(numbering);
    const kept = new DictionaryBuilder();
    const requests = [interval(kept, 7, 10), interval(kept, 8, 25), interval(kept, 7, 10).slice(3), interval(kept, 9, 5)];
    // Profiles over two dictionaries in one request: equal content in both is one entry.
    requests.push([...requests[3]!, ...interval(new DictionaryBuilder(), 9, 5)]);
    for (const profiles of requests) expect(Buffer.from(enc.encode(profiles)).equals(Buffer.from(encodeOtlpProtobuf(profiles)))).toBe(true);
    expect(numbering.resets).toBeGreaterThan(0);
  });

  it('holds each string, attribute, mapping, function, location and stack once in a request', () => {
    const t = new OtlpRequestDictionary(new OtlpContentNumbering());
    for (const p of [...interval(), ...interval(new DictionaryBuilder(), 7)]) for (const s of p.stacks) t.stack(p.dict, s);
    const once = (xs: readonly unknown[]) => new Set(xs.map((x) => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)))).size === xs.length;
    expect(once(t.strings)).toBe(true);
    expect(once(t.attributes)).toBe(true);
    expect(once(t.mappings)).toBe(true);
    expect(once(t.functions)).toBe(true);
    // Symbolized locations are their lines (any address); unsymbolized ones their address.
    expect(once(t.locations.map((l) => ({ ...l, address: l.functions.length > 0 ? 0n : l.address })))).toBe(true);
    expect(once(t.stacks)).toBe(true);
    expect(t.strings.length).toBeGreaterThan(100);
  });
});
