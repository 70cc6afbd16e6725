import { describe, expect, it } from 'vitest';
import { CPU_TYPE, functionId, labelsFrom, locationId, mappingId, seriesId, stackId } from '../../src/model/index.js';

/**
 * Content ids are stored on disk by every installed Kiln: the same input must keep giving the same id.
 * Expected values were computed at 8fc7c56 (before ids were hashed from a reused buffer) and are
 * pinned here as hex.
 */
const hex = (x: bigint) => x.toString(16).padStart(16, '0');

describe('content ids', () => {
  const m = mappingId('/usr/lib/libc.so.6', 'a1b2c3');
  const f1 = functionId('main', '', '');
  const f2 = functionId('Ünïcödé::λ 函数', 'sys_名', '/src/ファイル.c');
  const f3 = functionId('lone \ud800 surrogate', '', 'x.go');

  it('series ids', () => {
    expect(hex(seriesId('acme', CPU_TYPE, labelsFrom({ service_name: 'checkout', namespace: 'shop' })))).toBe('0567d77a3c7074a4');
    expect(hex(seriesId('t', CPU_TYPE, labelsFrom({})))).toBe('46b1f4c4f4ee60cc');
  });

  it('mapping ids', () => {
    expect(hex(m)).toBe('9c4d1cb67003e2a3');
    expect(hex(mappingId('', ''))).toBe('f45a74ba2c2178af');
  });

  it('function ids, non-ASCII and lone surrogates included', () => {
    expect(hex(f1)).toBe('8401cce77ae6a6b6');
    expect(hex(f2)).toBe('19733c555f93b1b8');
    expect(hex(f3)).toBe('99a7af49f9700874');
  });

  it('location ids: unsymbolized (addresses past 2^63 too), one line, inlined with negative and large lines', () => {
    expect(hex(locationId(m, 0x7f00_1234_5678n, []))).toBe('fabcd7718f034a33');
    expect(hex(locationId(m, -1n, []))).toBe('da7690bfcb0d6ef8');
    expect(hex(locationId(m, 0n, [{ functionId: f1, line: 42 }]))).toBe('180e29e119870630');
    const inlined = [{ functionId: f2, line: 7 }, { functionId: f3, line: -3 }, { functionId: f1, line: 2 ** 40 }];
    expect(hex(locationId(m, 0n, inlined))).toBe('0d541985d30cfa46');
  });

  it('stack ids, the same after longer inputs were hashed', () => {
    const stack = () => hex(stackId([locationId(m, 0n, [{ functionId: f1, line: 42 }]), locationId(m, 16n, [])]));
    expect(stack()).toBe('35ef1769c68c61be');
    expect(hex(stackId([]))).toBe('87b8166da7ec4841');
    // A long stack and a long name in between must leave no trace in later ids.
    stackId(Array.from({ length: 300 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n));
    functionId('x'.repeat(100_000), '', '');
    expect(stack()).toBe('35ef1769c68c61be');
    expect(hex(f1)).toBe(hex(functionId('main', '', '')));
  });
});
