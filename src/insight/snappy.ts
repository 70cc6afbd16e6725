/**
 * Snappy block compression (the format of github.com/google/snappy's format_description.txt), which
 * Prometheus remote write requires. No snappy package is among Kiln's dependencies, and the encoder is
 * small: a varint of the input length, then literals and back-references (copies) found with a hash of
 * every 4-byte sequence. Matches stay inside 64 KiB blocks, as the reference encoder keeps them, so
 * every offset fits the 2-byte copy form. Decoders (Go's, in Prometheus) accept any such valid stream.
 */
const BLOCK = 1 << 16;
const HASH_BITS = 14;

export function snappyEncode(src: Uint8Array): Uint8Array<ArrayBuffer> {
  // Worst case: every byte a literal, plus tag bytes and the length preamble.
  const out = new Uint8Array(32 + src.length + Math.ceil(src.length / 6));
  let o = 0;
  for (let n = src.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      out[o++] = n;
      break;
    }
    out[o++] = (n & 0x7f) | 0x80;
  }
  const table = new Int32Array(1 << HASH_BITS);

  const literal = (from: number, to: number): void => {
    const len = to - from;
    if (len <= 0) return;
    const n = len - 1;
    if (n < 60) out[o++] = n << 2;
    else {
      const bytes = n < 1 << 8 ? 1 : n < 1 << 16 ? 2 : n < 1 << 24 ? 3 : 4;
      out[o++] = (59 + bytes) << 2;
      for (let b = 0; b < bytes; b++) out[o++] = (n >>> (8 * b)) & 0xff;
    }
    out.set(src.subarray(from, to), o);
    o += len;
  };
  const copy = (offset: number, len: number): void => {
    // Long matches go out as copies of 64 (keeping at least 4 for the last one), then the rest.
    while (len >= 68) {
      copy2(offset, 64);
      len -= 64;
    }
    if (len > 64) {
      copy2(offset, 60);
      len -= 60;
    }
    if (len < 12 && offset < 2048) {
      out[o++] = 0x01 | ((len - 4) << 2) | ((offset >>> 8) << 5);
      out[o++] = offset & 0xff;
    } else copy2(offset, len);
  };
  const copy2 = (offset: number, len: number): void => {
    out[o++] = 0x02 | ((len - 1) << 2);
    out[o++] = offset & 0xff;
    out[o++] = offset >>> 8;
  };
  const load32 = (i: number): number => (src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24)) >>> 0;

  for (let start = 0; start < src.length; start += BLOCK) {
    const end = Math.min(src.length, start + BLOCK);
    table.fill(-1);
    let lit = start;
    let i = start;
    while (i + 4 <= end) {
      const v = load32(i);
      const h = Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
      const cand = table[h]!;
      table[h] = i;
      if (cand >= start && load32(cand) === v) {
        literal(lit, i);
        let len = 4;
        while (i + len < end && src[cand + len] === src[i + len]) len++;
        copy(i - cand, len);
        i += len;
        lit = i;
      } else i++;
    }
    literal(lit, end);
  }
  return out.slice(0, o);
}
