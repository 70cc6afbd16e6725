import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFolded, toFolded } from '../../src/formats/folded.js';
import { parseLines } from '../../src/formats/lines.js';
import { InputError, labelsFrom, parseProfileType, profileTotal } from '../../src/model/index.js';
import { requireTestdata } from '../support/testdata.js';

const type = parseProfileType('process_cpu:samples:count:cpu:nanoseconds');
const sortLines = (s: string) => s.split('\n').filter((l) => l !== '').sort().map((l) => `${l}\n`).join('');

describe('folded round-trip', () => {
  it('every collapsed result of the perf corpus round-trips byte for byte after sorting', () => {
    const dir = path.join(requireTestdata('perf/flamegraph-tests'), 'results');
    const files = readdirSync(dir);
    expect(files.length).toBe(48);
    for (const f of files) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(toFolded(parseFolded(text, { type })), f).toBe(sortLines(text));
    }
  });

  it('tolerates CRLF and blank lines, sums repeated stacks, carries type and labels', () => {
    const p = parseFolded('main;work 3\r\n\r\nmain;idle 2\n\nmain;work 4\n', { type, labels: labelsFrom({ service_name: 'svc' }), timeMs: 1000 });
    expect(toFolded(p)).toBe('main;idle 2\nmain;work 7\n');
    expect(profileTotal(p)).toBe(9);
    expect(p.type).toEqual(type);
    expect(p.labels).toEqual([{ name: 'service_name', value: 'svc' }]);
    expect(p.timeMs).toBe(1000);
    // Leaf first in the model: the first location of a stack is the innermost frame.
    const leaf = p.dict.locations[p.dict.stacks[p.stacks[0]!]![0]!]!;
    expect(p.dict.functions[leaf.lines[0]!.function]!.name).toBe('work');
  });

  it('keeps frame names with spaces and drops zero counts', () => {
    const p = parseFolded('V8 WorkerThread;do it 5\nmain;nothing 0\n', { type });
    expect(toFolded(p)).toBe('V8 WorkerThread;do it 5\n');
  });
});

describe('folded bad input', () => {
  const bad = (text: string, message: RegExp) => {
    let err: unknown;
    try {
      parseFolded(text, { type });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).status).toBe(400);
    expect((err as InputError).message).toMatch(message);
  };
  it('NaN count, with its line number', () => bad('a;b 1\na;c NaN\n', /line 2: count "NaN"/));
  it('negative count', () => bad('a;b -5\n', /line 1: count "-5"/));
  it('hex or exponent counts are not guessed at', () => bad('a 0x10\n', /line 1/));
  it('a line with no count', () => bad('a;b;c\n', /line 1: expected/));
  it('empty input', () => bad('\n\n', /no samples/));
  it('only zero counts', () => bad('a 0\n', /no samples/));
});

describe('lines format', () => {
  it('counts each line as one sample of its stack', () => {
    const p = parseLines('main;a\nmain;b\r\nmain;a\n\n', { type });
    expect(toFolded(p)).toBe('main;a 2\nmain;b 1\n');
  });
  it('rejects an empty body', () => {
    expect(() => parseLines('', { type })).toThrow(InputError);
  });
});
