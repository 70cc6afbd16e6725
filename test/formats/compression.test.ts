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
  it('truncated and corrupt gzip are 400', () => {
    const gz = gzipSync('some profile text that is long enough to truncate');
    expect(statusOf(() => gunzipBounded(gz.subarray(0, gz.length - 10), 1000))).toBe(400);
    const corrupt = Buffer.from(gz);
    corrupt[12] ^= 0xff;
    corrupt[13] ^= 0xff;
    expect(statusOf(() => gunzipBounded(corrupt, 1000))).toBe(400);
  });
});
