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
  const mapping: PprofMapping[] = [];
  const fn: PprofFunction[] = [];
  const location: PprofLocation[] = [];

  const mappingId = interner(mapping, (i, id) => {
    const m = dict.mappings[i]!;
    return new PprofMapping({ id, filename: st.dedup(m.binary), buildId: st.dedup(m.buildId), hasFunctions: true });
  });
  const functionId = interner(fn, (i, id) => {
    const f = dict.functions[i]!;
    return new PprofFunction({ id, name: st.dedup(f.name), systemName: st.dedup(f.systemName || f.name), filename: st.dedup(f.file) });
  });
  const locationId = interner(location, (i, id) => {
    const l = dict.locations[i]!;
    return new PprofLocation({
      id,
      mappingId: l.mapping < 0 ? 0 : mappingId(l.mapping),
      address: l.address,
      line: l.lines.map((ln) => ({ functionId: functionId(ln.function), line: ln.line })),
    });
  });

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

/** Maps model indices to 1-based pprof ids, appending each entry to `list` the first time it is used. */
function interner<T>(list: T[], make: (index: number, id: number) => T): (index: number) => number {
  const ids = new Map<number, number>();
  return (index) => {
    let id = ids.get(index);
    if (id === undefined) {
      id = list.length + 1;
      ids.set(index, id);
      list.push(make(index, id));
    }
    return id;
  };
}
