import { describe, expect, it } from 'vitest';
import { isInterpreterFrame, pythonFrameParts } from '../../../src/agent/python/code.js';

describe('CPython frame tag in user stacks', () => {
  it('is bit 63: native addresses are not CPython frames, tagged ones give back code object and instruction', () => {
    for (const native of [0n, 0x5555_5555_4000n, 0x7fff_ffff_f000n, 0xffff_ffff_8100_0000n >> 1n, (1n << 63n) - 1n]) expect(isInterpreterFrame(native)).toBe(false);
    const code = 0x7f12_3456_7890n;
    const tagged = (1n << 63n) | (0x1234n << 47n) | code;
    expect(isInterpreterFrame(tagged)).toBe(true);
    expect(isInterpreterFrame((1n << 64n) - 1n)).toBe(true);
    expect(pythonFrameParts(tagged)).toEqual({ code: Number(code), instr: 0x1234 });
  });
});
