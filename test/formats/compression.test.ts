import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DECOMPRESSED, GunzipInto, gunzipBounded } from '../../src/formats/compression.js';
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

describe('GunzipInto (a decode thread\'s kept buffer)', () => {
  const into = new GunzipInto();
  const inflate = (data: Uint8Array, max: number): Uint8Array => into.inflate(data, max);

  it('inflates what gunzipBounded inflates, into one buffer it keeps, and passes other bytes through', () => {
    const a = Buffer.alloc(200 * 1024, 3);
    const b = Buffer.from('a second, smaller body');
    const first = inflate(gzipSync(a), 1024 * 1024);
    expect(Buffer.from(first).equals(a)).toBe(true);
    const second = inflate(gzipSync(b), 1024 * 1024);
    expect(Buffer.from(second).toString()).toBe(b.toString());
    expect(second.buffer).toBe(first.buffer);
    const raw = new Uint8Array([1, 2, 3]);
    expect(inflate(raw, 100)).toBe(raw);
  });
  it('a bomb stops at the cap with 413, whatever its trailer claims, and the next body inflates', () => {
    for (const claimed of [undefined, 0, 0xffffffff]) {
      const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
      if (claimed !== undefined) bomb.writeUInt32LE(claimed, bomb.length - 4);
      expect(statusOf(() => inflate(bomb, 1024 * 1024))).toBe(413);
      expect(() => inflate(bomb, 1024 * 1024)).toThrow('decompressed size exceeds 1048576 bytes');
      expect(Buffer.from(inflate(gzipSync('after'), 1024 * 1024)).toString()).toBe('after');
    }
    // Exactly the cap inflates; one byte more does not (as gunzipBounded).
    const atCap = gzipSync(Buffer.alloc(4096, 1));
    expect(inflate(atCap, 4096).length).toBe(4096);
    expect(statusOf(() => inflate(atCap, 4095))).toBe(413);
    expect(statusOf(() => gunzipBounded(atCap, 4095))).toBe(413);
  });
  it('every member of a multi-member gzip is inflated', () => {
    const big = Buffer.alloc(300 * 1024, 7);
    const twoMembers = Buffer.concat([gzipSync(big), gzipSync('tail')]);
    expect(Buffer.from(inflate(twoMembers, 1024 * 1024)).equals(Buffer.concat([big, Buffer.from('tail')]))).toBe(true);
  });
  it('truncated and corrupt gzip are 400 with gunzipBounded\'s messages, and the next body inflates', () => {
    const gz = gzipSync('some profile text that is long enough to truncate');
    const truncated = gz.subarray(0, gz.length - 10);
    expect(statusOf(() => inflate(truncated, 1000))).toBe(400);
    expect(() => inflate(truncated, 1000)).toThrow('truncated gzip stream');
    const corrupt = Buffer.from(gz);
    corrupt[12] ^= 0xff;
    corrupt[13] ^= 0xff;
    expect(statusOf(() => inflate(corrupt, 1000))).toBe(400);
    let mine = '';
    let theirs = '';
    try {
      inflate(corrupt, 1000);
    } catch (e) {
      mine = (e as Error).message;
    }
    try {
      gunzipBounded(corrupt, 1000);
    } catch (e) {
      theirs = (e as Error).message;
    }
    expect(mine).toBe(theirs);
    expect(Buffer.from(inflate(gz, 1000)).toString()).toBe('some profile text that is long enough to truncate');
  });
});
