import { describe, expect, it } from 'vitest';
import { MAPPINGS_AT, MAX_MAPPINGS, PROC_INFO_BYTES, procInfoValue, PY_PART, V8_PART } from '../../../src/agent/unwind/proc-info.js';

describe('procs value (bpf/unwind.h struct proc_info)', () => {
  it('holds flags, count and each mapping’s start, end, bias (negative in two’s complement), first and count as the walker reads them', () => {
    const mappings = [
      { start: 0x5555_5555_4000, end: 0x5555_5556_0000, bias: 0x5555_5555_4000, first: 7, count: 300 },
      { start: 0x7fff_f7dc_0000, end: 0x7fff_f7f5_2000, bias: -0x1000, first: 0xffffffff, count: 0 },
      { start: 0x40_0000, end: 0x41_0000, bias: -0x7fff_ffff_f000, first: 0, count: 1 },
    ];
    const v = procInfoValue(3, mappings);
    expect(v.length).toBe(PROC_INFO_BYTES);
    expect([v.readUInt32LE(0), v.readUInt32LE(4)]).toEqual([3, 3]);
    mappings.forEach((m, i) => {
      const o = MAPPINGS_AT + i * 32;
      expect(v.readBigUInt64LE(o), `start ${i}`).toBe(BigInt(m.start));
      expect(v.readBigUInt64LE(o + 8), `end ${i}`).toBe(BigInt(m.end));
      expect(v.readBigUInt64LE(o + 16), `bias ${i}`).toBe(BigInt.asUintN(64, BigInt(m.bias)));
      expect([v.readUInt32LE(o + 24), v.readUInt32LE(o + 28)], `slice ${i}`).toEqual([m.first, m.count]);
    });
    // A reused buffer keeps nothing of a longer value written before.
    const again = procInfoValue(1, mappings.slice(0, 1), v as Buffer<ArrayBuffer>);
    expect(again.subarray(MAPPINGS_AT + 32).every((b) => b === 0)).toBe(true);
    expect(procInfoValue(0, Array.from({ length: MAX_MAPPINGS + 5 }, () => mappings[0]!)).readUInt32LE(4)).toBe(MAX_MAPPINGS);
  });

  it('carries the CPython and V8 parts between the flags and the mappings, and a rewrite without them leaves them zero', () => {
    const mapping = { start: 0x40_0000, end: 0x41_0000, bias: 0, first: 9, count: 1 };
    const py = Buffer.alloc(PY_PART.bytes, 0x11);
    const v8 = Buffer.alloc(V8_PART.bytes, 0x22);
    const v = procInfoValue(6, [mapping], undefined, [
      { offset: PY_PART.offset, bytes: py },
      { offset: V8_PART.offset, bytes: v8 },
    ]);
    expect([v.readUInt32LE(0), v.readUInt32LE(4)]).toEqual([6, 1]);
    expect(v.subarray(PY_PART.offset, PY_PART.offset + PY_PART.bytes)).toEqual(py);
    expect(v.subarray(V8_PART.offset, V8_PART.offset + V8_PART.bytes)).toEqual(v8);
    expect(v.readUInt32LE(MAPPINGS_AT + 24), 'the mapping after the parts, untouched by them').toBe(9);
    const again = procInfoValue(1, [mapping], v as Buffer<ArrayBuffer>);
    expect(again.subarray(8, MAPPINGS_AT).every((b) => b === 0)).toBe(true);
    expect(() => procInfoValue(1, [], undefined, [{ offset: MAPPINGS_AT - 4, bytes: Buffer.alloc(8) }]), 'a part over the mappings').toThrow(RangeError);
  });
});
