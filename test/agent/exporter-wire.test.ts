import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeInterval, pyroscopeAppName } from '../../src/agent/exporter-wire.js';
import { decodePprof } from '../../src/formats/pprof.js';
import { CPU_TYPE, DictionaryBuilder, frameNames, labelsFrom, type Profile } from '../../src/model/index.js';

function profile(labels: Record<string, string>): Profile {
  const b = new DictionaryBuilder();
  const stack = b.stack([b.frame('burn_a'), b.frame('main')]);
  return { type: CPU_TYPE, labels: labelsFrom(labels), timeMs: 1_700_000_000_000, durationNs: 10e9, period: 1e9 / 19, dict: b.dict, stacks: [stack], values: [1e9] };
}

const window = { startMs: 1_700_000_000_000, endMs: 1_700_000_010_000 };

describe('agent wire encodings', () => {
  it('sends one gzipped OTLP request for all profiles of an interval', () => {
    const reqs = encodeInterval('otlp', [profile({ service_name: 'a' }), profile({ service_name: 'b' })], window, 19, (ps) => new TextEncoder().encode(`n=${ps.length}`));
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.path).toBe('/v1development/profiles');
    expect(reqs[0]!.headers['content-encoding']).toBe('gzip');
    expect(reqs[0]!.headers['content-type']).toBe('application/x-protobuf');
    expect(new TextDecoder().decode(gunzipSync(reqs[0]!.body as Uint8Array))).toBe('n=2');
    expect(reqs[0]!.profiles).toBe(2);
  });

  it('sends one pprof per process to /ingest, readable back as the same stacks', async () => {
    const reqs = encodeInterval('pyroscope', [profile({ service_name: 'checkout', pid: '42' })], window, 19, () => {
      throw new Error('OTLP must not be used for the pyroscope protocol');
    });
    expect(reqs).toHaveLength(1);
    const url = new URL(reqs[0]!.path, 'http://x');
    expect(url.pathname).toBe('/ingest');
    expect(url.searchParams.get('name')).toBe('checkout{pid=42}');
    expect(url.searchParams.get('from')).toBe('1700000000');
    expect(url.searchParams.get('until')).toBe('1700000010');
    expect(url.searchParams.get('sampleRate')).toBe('19');
    const form = reqs[0]!.body as FormData;
    const file = form.get('profile') as Blob;
    const decoded = decodePprof(new Uint8Array(await file.arrayBuffer()));
    const p = decoded[0]!;
    expect(p.values.reduce((a, b) => a + b, 0)).toBe(1e9);
    expect(p.dict.stacks[p.stacks[0]!]!.map((l) => frameNames(p.dict, l)[0])).toEqual(['burn_a', 'main']);
  });

  it('puts only its own process\'s symbols in each pprof when the interval shares one dictionary', async () => {
    const b = new DictionaryBuilder();
    const own = (name: string): Profile => ({
      type: CPU_TYPE,
      labels: labelsFrom({ service_name: name }),
      timeMs: window.startMs,
      durationNs: 10e9,
      period: 1e9 / 19,
      dict: b.dict,
      stacks: [b.stack([b.frame(`${name}_work`), b.frame('main')])],
      values: [1e9],
    });
    const reqs = encodeInterval('pyroscope', [own('alpha'), own('beta')], window, 19, () => new Uint8Array());
    const names = await Promise.all(
      reqs.map(async (r) => decodePprof(new Uint8Array(await ((r.body as FormData).get('profile') as Blob).arrayBuffer()))[0]!.dict.functions.map((f) => f.name).sort()),
    );
    expect(names).toEqual([['alpha_work', 'main'], ['beta_work', 'main']]);
  });

  it('never sends nothing-requests', () => {
    expect(encodeInterval('otlp', [], window, 19, () => new Uint8Array())).toEqual([]);
  });

  it('keeps the Pyroscope series key parseable whatever the label values hold', () => {
    expect(pyroscopeAppName(profile({ service_name: 'a{b}', cmd: 'x=1,y=2' }))).toBe('a_b_{cmd=x_1_y_2}');
    expect(pyroscopeAppName(profile({ comm: 'x' }))).toBe('unknown{comm=x}');
  });
});
