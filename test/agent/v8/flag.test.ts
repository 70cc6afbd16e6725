import { describe, expect, it } from 'vitest';
import { parseConfigYaml, resolveConfig } from '../../../src/agent/config.js';

describe('the V8 frames setting', () => {
  it('is on by default; --no-v8-frames or v8_frames: false turns it off; anything but a boolean is refused', () => {
    const cases: [Parameters<typeof resolveConfig>[0], Parameters<typeof resolveConfig>[1], boolean][] = [
      [{}, {}, true],
      [{}, { v8Frames: false }, false],
      [parseConfigYaml('v8_frames: false'), {}, false],
      [parseConfigYaml('v8_frames: false'), { v8Frames: true }, true],
    ];
    for (const [file, flags, on] of cases) expect(resolveConfig(file, flags).v8Frames).toBe(on);
    expect(() => resolveConfig(parseConfigYaml('v8_frames: maybe'), {})).toThrow(/--v8-frames "maybe"/);
  });
});
