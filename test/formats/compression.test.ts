import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded } from '../../src/formats/compression.js';
import { InputError } from '../../src/model/index.js';

const statusOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).status;
  }
  return undefined;
};

describe('gunzipBounded', () => {
  it('inflates gzip and passes other bytes through untouched', () => {
    expect(Buffer.from(gunzipBounded(gzipSync('hello'), 100)).toString()).toBe('hello');
    const raw = new Uint8Array([1, 2, 3]);
    expect(gunzipBounded(raw, 100)).toBe(raw);
  });
  it('a bomb stops at the cap with 413 and the cap in the message', () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024)); // ~16 KiB on the wire
    expect(statusOf(() => gunzipBounded(bomb, 1024 * 1024))).toBe(413);
    expect(() => gunzipBounded(bomb, 1024 * 1024)).toThrow('decompressed size exceeds 1048576 bytes');
    expect(DEFAULT_MAX_DECOMPRESSED).toBe(67108864);
  });
  it('the trailer\'s size is only a hint: every member of a multi-member gzip is inflated, and a bomb that understates or overstates its size still stops at the cap', () => {
    const big = Buffer.alloc(300 * 1024, 7);
    const twoMembers = Buffer.concat([gzipSync(big), gzipSync('tail')]); // the last trailer says 4 bytes
    expect(Buffer.from(gunzipBounded(twoMembers, 1024 * 1024)).equals(Buffer.concat([big, Buffer.from('tail')]))).toBe(true);
    for (const claimed of [0, 0xffffffff]) {
      const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
      bomb.writeUInt32LE(claimed, bomb.length - 4);
      expect(statusOf(() => gunzipBounded(bomb, 1024 * 1024))).toBe(413);
    }
  });
  it('truncated and corrupt gzip are 400', () => {
    const gz = gzipSync('some profile text that is long enough to truncate');
    expect(statusOf(() => gunzipBounded(gz.subarray(0, gz.length - 10), 1000))).toBe(400);
    const corrupt = Buffer.from(gz);
    corrupt[12] ^= 0xff;
    corrupt[13] ^= 0xff;
    expect(statusOf(() => gunzipBounded(corrupt, 1000))).toBe(400);
  });
});
