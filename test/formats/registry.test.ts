import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeProfiles, detectFormat, knownFormats, registerFormat } from '../../src/formats/registry.js';
import { InputError, profileTotal, profileTypeId } from '../../src/model/index.js';
import { pprofFiles, requireTestdata } from '../support/testdata.js';

describe('format registry', () => {
  it('knows the built-in formats', () => {
    expect(knownFormats()).toEqual(expect.arrayContaining(['folded', 'lines', 'perf', 'pprof', 'speedscope']));
  });

  it('unknown format → InputError 415 listing the known ones', () => {
    let err: unknown;
    try {
      decodeProfiles('jpeg', new Uint8Array([1]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).status).toBe(415);
    expect((err as InputError).message).toMatch(/^unknown format "jpeg": known formats are /);
    for (const f of ['folded', 'jfr', 'lines', 'perf', 'pprof', 'speedscope']) expect((err as InputError).message).toContain(f);
  });

  it('decodes folded (gzipped too) with a default samples type, or the type asked for', () => {
    const folded = Buffer.from('a;b 3\na;c 4\n');
    const [p] = decodeProfiles('folded', gzipSync(folded));
    expect(profileTypeId(p!.type)).toBe('process_cpu:samples:count:cpu:nanoseconds');
    expect(profileTotal(p!)).toBe(7);
  });

  it('a registered codec is reachable by name (the extension point other formats use)', () => {
    registerFormat('test-null', () => []);
    expect(decodeProfiles('test-null', new Uint8Array([1]))).toEqual([]);
  });

  it('an empty body is an InputError for every format', () => {
    for (const f of ['pprof', 'folded', 'lines', 'perf', 'speedscope']) {
      expect(() => decodeProfiles(f, new Uint8Array())).toThrow(InputError);
    }
  });
});

describe('detectFormat', () => {
  it('pprof by magic or name, raw or gzipped', () => {
    for (const f of pprofFiles()) expect(detectFormat(path.basename(f), readFileSync(f)), f).toBe('pprof');
    expect(detectFormat('upload.bin', readFileSync(pprofFiles()[0]!))).toBe('pprof');
  });
  it('perf script text, plain or gzipped', () => {
    const perf = requireTestdata('perf');
    expect(detectFormat('example-perf-stacks.txt.gz', readFileSync(path.join(perf, 'example-perf-stacks.txt.gz')))).toBe('perf');
    expect(detectFormat('x.txt', readFileSync(path.join(perf, 'flamegraph-tests', 'perf-java-stacks-01.txt')))).toBe('perf');
  });
  it('OTLP captures by name or JSON shape, once the otlp codec has registered itself', async () => {
    await import('../../src/formats/otlp-format.js');
    const otlp = requireTestdata('otlp');
    expect(detectFormat('otel-ebpf-profile.pb.bin', readFileSync(path.join(otlp, 'otel-ebpf-profile.pb.bin')))).toBe('otlp');
    expect(detectFormat('capture.json', readFileSync(path.join(otlp, 'otel-ebpf-profile.pb.json')))).toBe('otlp');
  });
  it('JFR by name or by its chunk magic, raw or gzipped', () => {
    const chunk = Buffer.concat([Buffer.from('FLR\0'), Buffer.alloc(64)]);
    expect(detectFormat('app.jfr', Buffer.from('anything'))).toBe('jfr');
    expect(detectFormat('upload.bin', chunk)).toBe('jfr');
    expect(detectFormat('upload.bin.gz', gzipSync(chunk))).toBe('jfr');
    expect(knownFormats()).toContain('jfr');
  });
  it('folded, lines and speedscope by content', () => {
    expect(detectFormat('stacks.txt', Buffer.from('main;work 10\nmain;idle 2\n'))).toBe('folded');
    expect(detectFormat('stacks.txt', Buffer.from('main;work\nmain;idle\n'))).toBe('lines');
    expect(detectFormat('p.json', Buffer.from('{"$schema":"https://www.speedscope.app/file-format-schema.json"}'))).toBe('speedscope');
  });
});
