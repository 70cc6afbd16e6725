import { parseProfileType } from '../model/profile-type.js';
import type { ProfileType } from '../model/profile-type.js';
import type { QueryEngine } from '../query/engine.js';
import { formatSelector } from '../query/selector.js';
import type { SeriesQuery } from '../store/store.js';
import type { CompareSide } from './compare.js';
import { compareStacks } from './compare.js';
import { samplePeriod } from './compare-samples.js';
import type { Summary } from './summary.js';
import { summarize } from './summary.js';

/** What a summary is made of: merged stacks, where they came from, and optionally a base to compare with. */
export interface SummarySides {
  readonly type: ProfileType;
  readonly head: CompareSide;
  readonly selection: string;
  readonly range?: { readonly from: number; readonly to: number };
  readonly base?: { readonly side: CompareSide; readonly text: string };
}

/** The summary of `head`, with "what changed" against `base` (compare.ts, every function tested). */
export function summaryOf(s: SummarySides): Summary {
  const changes = s.base ? { base: s.base.text, report: compareStacks(s.type, s.base.side, s.head, { limit: 0 }) } : undefined;
  return summarize({ type: s.type, stacks: s.head.stacks, period: s.head.period, selection: s.selection, from: s.range?.from, until: s.range?.to, changes });
}

/** A selection on the server, merged by the query layer (and its base, when asked): the summary API's input. */
export async function summarizeSelection(query: QueryEngine, q: SeriesQuery, base?: SeriesQuery): Promise<Summary> {
  const type = parseProfileType(q.selector.profileType);
  const [stacks, baseStacks] = await Promise.all([query.stacks(q), base ? query.stacks(base) : Promise.resolve(undefined)]);
  return summaryOf({
    type,
    head: { stacks, period: samplePeriod(type, stacks) },
    selection: formatSelector(q.selector),
    range: { from: q.from, to: q.to },
    base: base && baseStacks ? { side: { stacks: baseStacks, period: samplePeriod(type, baseStacks) }, text: selectionText(base) } : undefined,
  });
}

/** `type{…}@from..until` in RFC 3339, the way `--diff-base` is written. */
export function selectionText(q: SeriesQuery): string {
  return `${formatSelector(q.selector)}@${new Date(q.from).toISOString()}..${new Date(q.to).toISOString()}`;
}
