import { describe, expect, it } from 'vitest';
import { Profile as PprofProfile, StringTable, ValueType } from 'pprof-format';
import { checkProtobufFraming } from '../../src/formats/protobuf-wire.js';
import { decodePprof } from '../../src/formats/pprof.js';

describe('protobuf framing check', () => {
  it('accepts a well-formed message', () => {
    const st = new StringTable();
    const p = new PprofProfile({ sampleType: [new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })], stringTable: st });
    expect(() => checkProtobufFraming(p.encode(), 'pprof')).not.toThrow();
  });

  it('rejects a length that runs past the end, which the generated decoder would read as an empty profile', () => {
    const truncated = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x01, 0x02]);
    expect(() => checkProtobufFraming(truncated, 'pprof profile')).toThrow(/runs past the end/);
    expect(() => decodePprof(truncated)).toThrow(/not a valid pprof profile/);
  });

  it('rejects unknown wire types and unterminated varints', () => {
    expect(() => checkProtobufFraming(new Uint8Array([0x0f, 0x00]), 'x')).toThrow(/wire type 7/);
    expect(() => checkProtobufFraming(new Uint8Array([0x08, 0xff]), 'x')).toThrow(/varint/);
  });
});
