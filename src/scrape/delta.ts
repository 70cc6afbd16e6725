import { Profile as PprofProfile } from 'pprof-format';

/** Sample types whose values count since the process started (Go's allocs, block and mutex endpoints). */
const CUMULATIVE = /^(alloc_|contentions$|delay$)/;

/**
 * Turns a cumulative pprof (totals since the process started) into the change since the previous
 * scrape of the same endpoint, per stack, so that merging scraped profiles over a range counts each
 * allocation or contention once. Stacks are keyed by their addresses and function names (location ids
 * are renumbered by every pprof write; addresses of a running process are not). Gauge-like types in
 * the same profile (`inuse_*`) keep their values. The first scrape has no baseline: its cumulative
 * types are zero, as the Pyroscope SDKs' first delta is.
 */
export class CumulativeDelta {
  private previous = new Map<string, number>();

  apply(raw: Uint8Array): Uint8Array {
    const p = PprofProfile.decode(raw);
    const str = (i: unknown) => p.stringTable.strings[Number(i)] ?? '';
    const cumulative = p.sampleType.map((t) => CUMULATIVE.test(str(t.type)));
    if (!cumulative.some(Boolean)) return raw;
    const functions = new Map(p.function.map((f) => [String(f.id), str(f.name)]));
    const locations = new Map(
      p.location.map((l) => [String(l.id), `${String(l.address)}/${l.line.map((ln) => functions.get(String(ln.functionId)) ?? '').join('|')}`]),
    );
    const keyOf = (stack: string, i: number) => `${i}\u0000${stack}`;
    const stacks = p.sample.map((s) => s.locationId.map((id) => locations.get(String(id)) ?? '').join(';'));
    // Totals per (type, stack): a stack may appear in several samples (differing labels).
    const next = new Map<string, number>();
    p.sample.forEach((s, j) => s.value.forEach((v, i) => {
      if (cumulative[i]) next.set(keyOf(stacks[j]!, i), (next.get(keyOf(stacks[j]!, i)) ?? 0) + Number(v));
    }));
    const first = this.previous.size === 0;
    const given = new Set<string>();
    p.sample.forEach((s, j) => {
      s.value = s.value.map((v, i) => {
        if (!cumulative[i]) return v;
        const key = keyOf(stacks[j]!, i);
        // The change goes to the stack's first sample; a counter that went down means the process restarted.
        let delta = 0;
        if (!first && !given.has(key)) {
          const now = next.get(key)!;
          const before = this.previous.get(key) ?? 0;
          delta = now >= before ? now - before : now;
        }
        given.add(key);
        return typeof v === 'bigint' ? BigInt(delta) : delta;
      });
    });
    this.previous = next;
    return p.encode();
  }
}
