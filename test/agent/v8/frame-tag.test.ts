import { describe, expect, it } from 'vitest';
import { isInterpreterFrame } from '../../../src/agent/python/code.js';
import { isV8Frame, v8FrameFunction } from '../../../src/agent/v8/frames.js';

describe('V8 frame tag in user stacks', () => {
  it('is bit 63 with a tagged (odd) address and bits 47–62 clear: told apart from native and CPython frames', () => {
    const sfi = 0x36f1_82de_2de9n; // a SharedFunctionInfo as the walker records it: heap object tag in bit 0
    const tagged = (1n << 63n) | sfi;
    expect(isInterpreterFrame(tagged)).toBe(true); // under the same bit: the symbolizer asks isV8Frame first
    expect(isV8Frame(tagged)).toBe(true);
    expect(v8FrameFunction(tagged)).toBe(Number(sfi));
    // CPython frames: an aligned code object address (bit 0 clear), with or without an instruction index.
    for (const py of [(1n << 63n) | 0x7f12_3456_7890n, (1n << 63n) | (0x1234n << 47n) | 0x7f12_3456_7890n]) expect(isV8Frame(py)).toBe(false);
    // An odd address with an instruction index is no V8 frame either, nor are native addresses.
    expect(isV8Frame((1n << 63n) | (1n << 47n) | sfi)).toBe(false);
    for (const native of [0x5555_5555_4001n, 0x7fff_ffff_f001n]) expect(isV8Frame(native)).toBe(false);
  });
});
