import type { Store } from '../../src/store/index.js';

/**
 * What a store answers for a tenant over all time (corpus profiles keep their own recorded times), for comparing two stores: its series, and
 * each series' merged stacks as resolved frames (function, file, line, mapping, address) with values.
 */
export async function storeDigest(store: Store, tenant: string): Promise<unknown> {
  const range = { from: 0, to: Date.UTC(2100, 0, 1) };
  const q = { tenant, ...range, selector: { profileType: '', matchers: [] } };
  const series = (await store.series(q)).map((s) => ({ type: s.profileType, labels: s.labels })).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  const merges: unknown[] = [];
  for (const type of await store.profileTypes(q)) {
    const profileType = `${type.name}:${type.sampleType}:${type.sampleUnit}:${type.periodType}:${type.periodUnit}`;
    const stacks = await store.mergeStacks({ ...q, selector: { profileType, matchers: [] } });
    const resolved = await store.resolveStacks(tenant, stacks.map((s) => s.stackId));
    const d = resolved.dict;
    const frames = stacks.map((s) => {
      const locs = d.stacks[resolved.stacks.get(s.stackId)!]!.map((l) => {
        const loc = d.locations[l]!;
        const m = loc.mapping >= 0 ? d.mappings[loc.mapping]! : undefined;
        return { m, address: loc.address, lines: loc.lines.map((ln) => ({ ...d.functions[ln.function]!, line: ln.line })) };
      });
      return { id: s.stackId, value: s.value, locs };
    });
    frames.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    merges.push({ profileType, frames });
  }
  return { series, merges };
}
