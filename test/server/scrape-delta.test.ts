import { Function as PprofFunction, Line, Location, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { CumulativeDelta } from '../../src/scrape/delta.js';

/** A Go-style allocs pprof (alloc_space cumulative, inuse_space a gauge); stacks by function name, leaf last. */
function allocs(rows: [string[], number, number][], shuffleIds = false): Uint8Array {
  const st = new StringTable();
  const names = [...new Set(rows.flatMap(([s]) => s))];
  // Location ids renumbered between writes, as Go's pprof writer does; addresses stay.
  const idOf = (n: string) => (shuffleIds ? names.length - names.indexOf(n) : names.indexOf(n) + 1);
  return new PprofProfile({
    sampleType: [new ValueType({ type: st.dedup('alloc_space'), unit: st.dedup('bytes') }), new ValueType({ type: st.dedup('inuse_space'), unit: st.dedup('bytes') })],
    function: names.map((n) => new PprofFunction({ id: idOf(n), name: st.dedup(n) })),
    location: names.map((n) => new Location({ id: idOf(n), address: 0x1000 + names.indexOf(n), line: [new Line({ functionId: idOf(n) })] })),
    sample: rows.map(([stack, alloc, inuse]) => new Sample({ locationId: [...stack].reverse().map(idOf), value: [alloc, inuse] })),
    stringTable: st,
  }).encode();
}

function values(raw: Uint8Array): Record<string, [number, number]> {
  const p = PprofProfile.decode(raw);
  const fn = new Map(p.function.map((f) => [Number(f.id), p.stringTable.strings[Number(f.name)]!]));
  const loc = new Map(p.location.map((l) => [Number(l.id), fn.get(Number(l.line[0]!.functionId))!]));
  return Object.fromEntries(p.sample.map((s) => [s.locationId.map((id) => loc.get(Number(id))).reverse().join(';'), s.value.map(Number) as [number, number]]));
}

describe('cumulative pprof endpoints are stored as the change since the previous scrape', () => {
  it('first scrape is a baseline, then each stack gets its growth; gauges keep their values', () => {
    const d = new CumulativeDelta();
    expect(values(d.apply(allocs([[['main', 'a'], 100, 40]])))).toEqual({ 'main;a': [0, 40] });
    expect(values(d.apply(allocs([[['main', 'a'], 150, 30], [['main', 'b'], 10, 10]], true)))).toEqual({ 'main;a': [50, 30], 'main;b': [10, 10] });
    // A counter that went down: the process restarted, everything it counted is new.
    expect(values(d.apply(allocs([[['main', 'a'], 20, 5]])))).toEqual({ 'main;a': [20, 5] });
  });
});
