import { DictionaryBuilder, dictionaryIds, matches, profileTypeId, seriesId, labelsFrom } from '../../src/model/index.js';
import type { Id, Labels, Profile, ProfileType } from '../../src/model/index.js';
import type {
  ResolvedStacks, SeriesInfo, SeriesPoints, SeriesPointsQuery, SeriesQuery, StackValue, Store, StoreStats, TimeRange, WriteResult,
} from '../../src/store/store.js';
import type { WeightedStack } from '../../src/query/stacks.js';
import { CPU_TYPE } from '../../src/model/index.js';
import type { FlameNode } from '../../src/query/tree.js';

/**
 * Hand-made stacks in folded form: `{ 'main;work;hash': 30 }`, root first. A frame written
 * `libc.so!memcpy` lives in binary `libc.so`; others have no binary.
 */
export function folded(stacks: Record<string, number>): WeightedStack[] {
  return Object.entries(stacks).map(([k, value]) => ({
    frames: k === '' ? [] : k.split(';').map((f) => {
      const bang = f.indexOf('!');
      return bang < 0 ? { name: f, binary: '' } : { name: f.slice(bang + 1), binary: f.slice(0, bang) };
    }),
    value,
  }));
}

/** A Profile from folded stacks (same `binary!fn` spelling), for writing into a store. */
export function profileOf(
  stacks: Record<string, number>,
  opts: { labels?: Record<string, string>; timeMs?: number; type?: ProfileType } = {},
): Profile {
  const b = new DictionaryBuilder();
  const idx: number[] = [];
  const values: number[] = [];
  for (const [k, v] of Object.entries(stacks)) {
    const locs = k.split(';').map((f) => {
      const bang = f.indexOf('!');
      return bang < 0 ? b.frame(f) : b.frame(f.slice(bang + 1), b.mapping(f.slice(0, bang)));
    });
    idx.push(b.stack(locs.reverse()));
    values.push(v);
  }
  return {
    type: opts.type ?? CPU_TYPE,
    labels: labelsFrom(opts.labels ?? { service_name: 'app' }),
    timeMs: opts.timeMs ?? 1_700_000_000_000,
    durationNs: 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks: idx,
    values,
  };
}

interface Row {
  tenant: string;
  series: Id;
  type: ProfileType;
  labels: Labels;
  timeMs: number;
  stackId: Id;
  value: number;
}

/**
 * A Store kept in memory with the same contract as the real engines (tenants apart, [from, to),
 * sum by stack, symbols by stack id) so the query layer can be tested on its own.
 */
export class MemoryStore implements Store {
  private readonly rows: Row[] = [];
  private readonly symbols = new Map<Id, { profile: Profile; stack: number }>();

  async write(tenant: string, profiles: readonly Profile[]): Promise<WriteResult> {
    let rows = 0;
    for (const p of profiles) {
      const ids = dictionaryIds(p.dict);
      const series = seriesId(tenant, p.type, p.labels);
      for (let i = 0; i < p.stacks.length; i++) {
        const stackId = ids.stacks[p.stacks[i]!]!;
        this.symbols.set(stackId, { profile: p, stack: p.stacks[i]! });
        this.rows.push({ tenant, series, type: p.type, labels: p.labels, timeMs: p.timeMs, stackId, value: p.values[i]! });
        rows++;
      }
    }
    return { profiles: profiles.length, rows };
  }

  private select(q: SeriesQuery): Row[] {
    return this.rows.filter(
      (r) =>
        r.tenant === q.tenant &&
        profileTypeId(r.type) === q.selector.profileType &&
        r.timeMs >= q.from &&
        r.timeMs < q.to &&
        matches(r.labels, q.selector.matchers),
    );
  }

  async profileTypes(q: SeriesQuery): Promise<ProfileType[]> {
    const m = new Map<string, ProfileType>();
    for (const r of this.rows) if (r.tenant === q.tenant && r.timeMs >= q.from && r.timeMs < q.to) m.set(profileTypeId(r.type), r.type);
    return [...m.values()];
  }

  async labelNames(q: SeriesQuery): Promise<string[]> {
    return [...new Set(this.select(q).flatMap((r) => r.labels.map((l) => l.name)))].sort();
  }

  async labelValues(q: SeriesQuery, name: string): Promise<string[]> {
    return [...new Set(this.select(q).flatMap((r) => r.labels.filter((l) => l.name === name).map((l) => l.value)))].sort();
  }

  async series(q: SeriesQuery): Promise<SeriesInfo[]> {
    const m = new Map<Id, SeriesInfo>();
    for (const r of this.select(q)) m.set(r.series, { id: r.series, profileType: r.type, labels: r.labels });
    return [...m.values()];
  }

  async mergeStacks(q: SeriesQuery): Promise<StackValue[]> {
    const m = new Map<Id, number>();
    for (const r of this.select(q)) m.set(r.stackId, (m.get(r.stackId) ?? 0) + r.value);
    return [...m].map(([stackId, value]) => ({ stackId, value }));
  }

  async resolveStacks(_tenant: string, stackIds: readonly Id[]): Promise<ResolvedStacks> {
    const b = new DictionaryBuilder();
    const stacks = new Map<Id, number>();
    for (const id of stackIds) {
      const s = this.symbols.get(id);
      if (!s) continue;
      const d = s.profile.dict;
      const locs = d.stacks[s.stack]!.map((li) => {
        const l = d.locations[li]!;
        const mapping = l.mapping >= 0 ? b.mapping(d.mappings[l.mapping]!.binary, d.mappings[l.mapping]!.buildId) : -1;
        const lines = l.lines.map((ln) => {
          const f = d.functions[ln.function]!;
          return { function: b.function(f.name, f.systemName, f.file), line: ln.line };
        });
        return b.location(mapping, l.address, lines);
      });
      stacks.set(id, b.stack(locs));
    }
    return { dict: b.dict, stacks };
  }

  async seriesPoints(q: SeriesPointsQuery): Promise<SeriesPoints[]> {
    const groups = new Map<string, { labels: Labels; buckets: Map<number, { sum: number; profiles: Set<string> }> }>();
    for (const r of this.select(q)) {
      const labels = labelsFrom(r.labels.filter((l) => q.groupBy.includes(l.name)).map((l) => [l.name, l.value] as const));
      const key = JSON.stringify(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels, buckets: new Map() }));
      const t = q.from + Math.floor((r.timeMs - q.from) / q.stepMs) * q.stepMs;
      let b = g.buckets.get(t);
      if (!b) g.buckets.set(t, (b = { sum: 0, profiles: new Set() }));
      b.sum += r.value;
      b.profiles.add(`${r.series}@${r.timeMs}`);
    }
    return [...groups.values()].map((g) => ({
      labels: g.labels,
      points: [...g.buckets]
        .sort((a, b) => a[0] - b[0])
        .map(([timeMs, b]) => ({ timeMs, value: q.aggregation === 'avg' ? b.sum / b.profiles.size : b.sum })),
    }));
  }

  async dropBefore(): Promise<number> {
    return 0;
  }

  async stats(): Promise<StoreStats> {
    return { series: new Set(this.rows.map((r) => r.series)).size, rows: this.rows.length, bytesOnDisk: 0 };
  }

  async close(): Promise<void> {}
}

/** The hand-made profile most query tests use; total 77. */
export const SAMPLE = {
  'main;work;hash': 30,
  'main;work': 10,
  'main;idle': 5,
  'main;work;libc.so!memcpy': 20,
  'main;gc;libc.so!memcpy': 8,
  'main;rec;rec;hash': 4,
};

/** shape() of the tree SAMPLE merges into. */
export const SAMPLE_SHAPE = {
  'total 77/0': [
    {
      'main 77/0': [
        { 'gc 8/0': ['memcpy 8/8'] },
        'idle 5/5',
        { 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] },
        { 'work 60/10': ['hash 30/30', 'memcpy 20/20'] },
      ],
    },
  ],
};

/** A compact picture of a tree: `name total/self` and children, for exact comparisons. */
export function shape(n: FlameNode): unknown {
  const head = `${n.name} ${n.total}/${n.self}`;
  return n.children.length === 0 ? head : { [head]: n.children.map(shape) };
}

