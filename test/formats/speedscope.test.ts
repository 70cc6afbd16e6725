import { describe, expect, it } from 'vitest';
import { toFolded } from '../../src/formats/folded.js';
import { parseSpeedscope } from '../../src/formats/speedscope.js';
import { InputError, profileTypeId } from '../../src/model/index.js';

const $schema = 'https://www.speedscope.app/file-format-schema.json';
const frames = [{ name: 'main' }, { name: 'work' }, { name: 'idle', file: 'x.py', line: 3 }];

describe('speedscope', () => {
  it('sampled profile: stacks root first, weights summed, time units in nanoseconds', () => {
    const file = {
      $schema,
      shared: { frames },
      profiles: [
        { type: 'sampled', name: 't1', unit: 'milliseconds', startValue: 0, endValue: 10, samples: [[0, 1], [0, 2], [0, 1]], weights: [1, 2, 3] },
      ],
    };
    const [p, ...rest] = parseSpeedscope(JSON.stringify(file));
    expect(rest).toEqual([]);
    expect(profileTypeId(p!.type)).toBe('process_cpu:cpu:nanoseconds:cpu:nanoseconds');
    expect(toFolded(p!)).toBe('main;idle 2000000\nmain;work 4000000\n');
  });

  it('evented profile: time between events goes to the open stack', () => {
    const file = {
      $schema,
      shared: { frames },
      profiles: [
        {
          type: 'evented',
          name: 'e',
          unit: 'none',
          startValue: 0,
          endValue: 10,
          events: [
            { type: 'O', at: 0, frame: 0 },
            { type: 'O', at: 2, frame: 1 },
            { type: 'C', at: 7, frame: 1 },
            { type: 'C', at: 10, frame: 0 },
          ],
        },
      ],
    };
    const [p] = parseSpeedscope(JSON.stringify(file));
    expect(profileTypeId(p!.type)).toBe('process_cpu:samples:count:cpu:nanoseconds');
    expect(toFolded(p!)).toBe('main 5\nmain;work 5\n');
  });

  it('profiles with different units become different types', () => {
    const file = {
      $schema,
      shared: { frames },
      profiles: [
        { type: 'sampled', unit: 'bytes', samples: [[0]], weights: [64] },
        { type: 'sampled', unit: 'nanoseconds', samples: [[0, 1]], weights: [10] },
      ],
    };
    expect(parseSpeedscope(JSON.stringify(file)).map((p) => profileTypeId(p.type)).sort()).toEqual([
      'memory:alloc_space:bytes:space:bytes',
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    ]);
  });

  it('rejects non-JSON, a wrong schema, bad frame indices and unbalanced events', () => {
    expect(() => parseSpeedscope('{')).toThrow(InputError);
    expect(() => parseSpeedscope(JSON.stringify({ $schema: 'x', profiles: [] }))).toThrow(/\$schema/);
    const badFrame = { $schema, shared: { frames }, profiles: [{ type: 'sampled', unit: 'none', samples: [[7]], weights: [1] }] };
    expect(() => parseSpeedscope(JSON.stringify(badFrame))).toThrow(/frame 7/);
    const unbalanced = { $schema, shared: { frames }, profiles: [{ type: 'evented', unit: 'none', events: [{ type: 'O', at: 0, frame: 0 }, { type: 'C', at: 1, frame: 1 }] }] };
    expect(() => parseSpeedscope(JSON.stringify(unbalanced))).toThrow(/not open/);
    const negative = { $schema, shared: { frames }, profiles: [{ type: 'sampled', unit: 'none', samples: [[0]], weights: [-1] }] };
    expect(() => parseSpeedscope(JSON.stringify(negative))).toThrow(/weight -1/);
    expect(() => parseSpeedscope(JSON.stringify({ $schema, shared: { frames }, profiles: [] }))).toThrow(/no samples/);
  });
});
