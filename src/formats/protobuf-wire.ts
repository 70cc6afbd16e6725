import { InputError } from '../model/errors.js';

/**
 * Walks the top-level fields of a protobuf message and checks that every one is well formed and fits
 * in the buffer. Generated decoders are lenient (pprof-format reads a length that runs past the end as
 * "no more fields"), so a truncated upload would otherwise decode as an empty profile and be
 * acknowledged. Cost: one pass over the field headers, no allocation.
 */
export function checkProtobufFraming(buf: Uint8Array, what: string): void {
  let pos = 0;
  const fail = (why: string): never => {
    throw new InputError(`not a valid ${what}: ${why} at byte ${pos} of ${buf.length} (truncated or not protobuf?)`);
  };
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) fail('varint runs past the end');
      const b = buf[pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    return fail('varint longer than 10 bytes');
  };
  while (pos < buf.length) {
    const tag = varint();
    if (tag >>> 3 === 0 && tag < 8) fail('field number 0');
    switch (tag % 8) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const len = varint();
        if (len > buf.length - pos) fail(`field of ${len} bytes runs past the end`);
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        fail(`wire type ${tag % 8}`);
    }
    if (pos > buf.length) fail('fixed-size field runs past the end');
  }
}
