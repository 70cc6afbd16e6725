import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';

/**
 * What a pprof file says, computed with pprof-format (a decoder nobody here wrote), independently
 * of Kiln's own: the total and each function's self and cumulative value per sample type. Tests
 * compare what Kiln answers after ingest against it.
 */
export interface Expected {
  total: number;
  self: Map<string, number>;
  /** A function counts once per sample however often it recurs in the stack. */
  cumulative: Map<string, number>;
}

export function decodePprof(file: string): PprofProfile {
  let data = readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
  return PprofProfile.decode(data);
}

/** Independent per-function sums for sample type `index`, read straight from the pprof message. */
export function expectedFor(p: PprofProfile, index: number): Expected {
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
  // Some .NET agents write every function with id 0, one per location in location order; the
  // only reading that makes sense of such a file (Pyroscope's too) gives function i location i's id.
  const zeroIds = p.function.length === p.location.length && p.function.every((f) => Number(f.id) === 0);
  const fnName = new Map(p.function.map((f, i) => [zeroIds ? Number(p.location[i]!.id) : Number(f.id), str(f.name)]));
  const mappingFile = new Map(p.mapping.map((m) => [Number(m.id), str(m.filename)]));
  // Frames of a location, innermost first; an unsymbolized one is named binary+0xaddress.
  const frames = new Map<number, string[]>(
    p.location.map((l) => {
      if (l.line.length > 0) return [Number(l.id), l.line.map((ln) => fnName.get(Number(ln.functionId)) ?? '')];
      const file = mappingFile.get(Number(l.mappingId)) ?? '';
      const bin = file.slice(file.lastIndexOf('/') + 1) || file || 'unknown';
      return [Number(l.id), [`${bin}+0x${BigInt(l.address).toString(16)}`]];
    }),
  );
  const out: Expected = { total: 0, self: new Map(), cumulative: new Map() };
  for (const s of p.sample) {
    // int64 on the wire: pprof-format hands back the unsigned reading of negative values.
    const v = Number(BigInt.asIntN(64, BigInt(s.value[index] ?? 0)));
    if (v === 0) continue;
    out.total += v;
    const names = s.locationId.flatMap((id) => frames.get(Number(id)) ?? []);
    if (names.length === 0) continue;
    out.self.set(names[0]!, (out.self.get(names[0]!) ?? 0) + v);
    for (const n of new Set(names)) out.cumulative.set(n, (out.cumulative.get(n) ?? 0) + v);
  }
  return out;
}

