/**
 * Line numbers from a CPython code object's line table, for the instruction a frame was executing —
 * the three formats, as CPython's own PyCode_Addr2Line reads them:
 *  - 3.11+: co_linetable, the location table (Objects/locations.md): entries of (length in code units,
 *    line delta …), the first byte of each with bit 7 set; `instr` in code units.
 *  - 3.10: co_linetable, (byte range delta, signed line delta) pairs, −128 = no line; `instr` in code units.
 *  - 3.8, 3.9: co_lnotab, (byte delta, signed line delta) pairs; `instr` is f_lasti, a byte offset.
 * Returns 0 when the table does not say.
 */
export function lineOf(version: string, table: Buffer, firstLine: number, instr: number): number {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  if (major === 3 && minor >= 11) return locationTableLine(table, firstLine, instr);
  if (major === 3 && minor === 10) return pairsLine(table, firstLine, instr * 2);
  return lnotabLine(table, firstLine, instr);
}

function locationTableLine(t: Buffer, firstLine: number, instr: number): number {
  let line = firstLine;
  let start = 0;
  let o = 0;
  while (o < t.length) {
    const first = t[o]!;
    const code = (first >> 3) & 15;
    const length = (first & 7) + 1;
    let delta = 0;
    if (code === 14 || code === 13) delta = signedVarint(t, o + 1);
    else if (code === 11) delta = 1;
    else if (code === 12) delta = 2;
    line += delta;
    if (instr >= start && instr < start + length) return code === 15 ? 0 : line;
    start += length;
    // The next entry starts at the next byte with bit 7 set.
    do o++;
    while (o < t.length && (t[o]! & 128) === 0);
  }
  return 0;
}

function varint(t: Buffer, o: number): number {
  let read = t[o++] ?? 0;
  let val = read & 63;
  let shift = 0;
  while (read & 64 && o < t.length && shift < 30) {
    read = t[o++]!;
    shift += 6;
    val |= (read & 63) << shift;
  }
  return val >>> 0;
}

function signedVarint(t: Buffer, o: number): number {
  const u = varint(t, o);
  return u & 1 ? -(u >>> 1) : u >>> 1;
}

function pairsLine(t: Buffer, firstLine: number, byteOffset: number): number {
  let line = firstLine;
  let end = 0;
  for (let o = 0; o + 1 < t.length; o += 2) {
    const start = end;
    end += t[o]!;
    const ldelta = t.readInt8(o + 1);
    if (ldelta !== -128) line += ldelta;
    if (byteOffset >= start && byteOffset < end) return ldelta === -128 ? 0 : line;
  }
  return 0;
}

function lnotabLine(t: Buffer, firstLine: number, byteOffset: number): number {
  let line = firstLine;
  let addr = 0;
  for (let o = 0; o + 1 < t.length; o += 2) {
    addr += t[o]!;
    if (addr > byteOffset) break;
    line += t.readInt8(o + 1);
  }
  return line;
}
