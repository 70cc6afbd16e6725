import { gzipSync } from 'node:zlib';
import { Function as PprofFunction, Location as PprofLocation, Mapping as PprofMapping, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import type { Profile } from '../model/index.js';

/**
 * Encodes one Profile as an uncompressed pprof with one sample type. Only the symbols its samples use
 * are written (a shared batch dictionary may hold many more). pprof ids are 1-based, so model index i
 * becomes id i+1 and 0 keeps meaning "none".
 */
export function encodePprof(p: Profile): Uint8Array {
  const st = new StringTable();
  const dict = p.dict;
  const usedLocations = new Map<number, number>();
  const usedFunctions = new Map<number, number>();
  const usedMappings = new Map<number, number>();
  const location: PprofLocation[] = [];
  const fn: PprofFunction[] = [];
  const mapping: PprofMapping[] = [];

  const mappingId = (i: number): number => {
    if (i < 0) return 0;
    let id = usedMappings.get(i);
    if (id === undefined) {
      id = mapping.length + 1;
      const m = dict.mappings[i]!;
      mapping.push(new PprofMapping({ id, filename: st.dedup(m.binary), buildId: st.dedup(m.buildId), hasFunctions: true }));
      usedMappings.set(i, id);
    }
    return id;
  };
  const functionId = (i: number): number => {
    let id = usedFunctions.get(i);
    if (id === undefined) {
      id = fn.length + 1;
      const f = dict.functions[i]!;
      fn.push(new PprofFunction({ id, name: st.dedup(f.name), systemName: st.dedup(f.systemName || f.name), filename: st.dedup(f.file) }));
      usedFunctions.set(i, id);
    }
    return id;
  };
  const locationId = (i: number): number => {
    let id = usedLocations.get(i);
    if (id === undefined) {
      id = location.length + 1;
      const l = dict.locations[i]!;
      location.push(
        new PprofLocation({
          id,
          mappingId: mappingId(l.mapping),
          address: l.address,
          line: l.lines.map((ln) => ({ functionId: functionId(ln.function), line: ln.line })),
        }),
      );
      usedLocations.set(i, id);
    }
    return id;
  };

  const sample = p.stacks.map((s, i) => new Sample({ locationId: dict.stacks[s]!.map(locationId), value: [p.values[i]!] }));
  const profile = new PprofProfile({
    sampleType: [new ValueType({ type: st.dedup(p.type.sampleType), unit: st.dedup(p.type.sampleUnit) })],
    sample,
    mapping,
    location,
    function: fn,
    stringTable: st,
    timeNanos: BigInt(Math.round(p.timeMs)) * 1_000_000n,
    durationNanos: BigInt(Math.round(p.durationNs)),
    periodType: new ValueType({ type: st.dedup(p.type.periodType), unit: st.dedup(p.type.periodUnit) }),
    period: Math.round(p.period),
  });
  return profile.encode();
}

/** encodePprof, gzipped: what `/debug/pprof` endpoints and Pyroscope's export hand out. */
export function encodePprofGzip(p: Profile): Uint8Array {
  return gzipSync(encodePprof(p));
}
