import { labelsFrom, labelsToRecord } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { Store, TimeRange } from '../store/store.js';
import type { RecordingRule } from './config.js';
import type { MetricFamily } from './exposition.js';
import { anchoredSearch } from './flame-link.js';
import type { StackSummaries } from './stack-summaries.js';
import type { Window, WindowGroup } from './window-merge.js';
import { mergeWindow } from './window-merge.js';

/**
 * Recording rules: a selector, an optional function pattern and group_by labels become one gauge,
 *   kiln:json_marshal:cpu_cores{service_name="checkout"} 0.41
 * the rate over the window (in the type's base unit, cores for CPU) of the samples where a function
 * matching the pattern is the leaf (kind self) or anywhere on the stack (kind total, each stack once),
 * or of the whole selection when there is no pattern. A group with data but no matching function
 * reads 0, so a threshold alert on the gauge resolves rather than going silent.
 */
export async function computeRecordingRule(
  store: Store,
  summaries: StackSummaries,
  rule: RecordingRule,
  limit: number,
  range: TimeRange,
  signal?: AbortSignal,
): Promise<MetricFamily> {
  const perSecond = (1000 / (range.to - range.from)) * rule.unit.scale;
  // Without a pattern only totals are needed: one stack per group plus the remainder row carries them.
  const window = await mergeWindow(store, summaries, {
    tenant: rule.tenant,
    selector: rule.selector,
    groupBy: rule.groupBy,
    limit: rule.functionRegex ? limit : 1,
    range,
    signal,
  });
  const test = memoTest(rule, summaries);
  const samples = window.groups.map((g) => {
    const value = test ? matchingValue(window, g, test, rule.kind) : g.total;
    const groupLabels = labelsToRecord(g.group.labels);
    const matchers: Matcher[] = [...rule.selector.matchers];
    for (const name of rule.groupBy) {
      const value = groupLabels[name] ?? '';
      if (!matchers.some((m) => m.name === name && m.op === '=' && m.value === value)) matchers.push({ name, op: '=', value });
    }
    return {
      labels: labelsFrom({ ...groupLabels, ...labelsToRecord(rule.labels) }),
      value: value * perSecond,
      origin: { profileType: rule.selector.profileType, matchers, search: rule.functionPattern ? anchoredSearch(rule.functionPattern) : undefined },
    };
  });
  const what = rule.functionPattern ? `${rule.kind} of functions matching ${rule.functionPattern} in ${rule.selectorText}` : rule.selectorText;
  return { name: rule.record, help: `Kiln recording rule: ${what}, in ${rule.unit.means}.`, type: 'gauge', samples };
}

/** The rule's pattern tested once per distinct function (names repeat across stacks and windows). */
function memoTest(rule: RecordingRule, summaries: StackSummaries): ((fn: number) => boolean) | undefined {
  const re = rule.functionRegex;
  if (!re) return undefined;
  const seen = new Map<number, boolean>();
  return (fn) => {
    let v = seen.get(fn);
    if (v === undefined) {
      v = re.test(summaries.name(fn));
      seen.set(fn, v);
    }
    return v;
  };
}

/** self: stacks whose leaf matches; total: stacks with any matching function, each stack once. */
function matchingValue(window: Window, g: WindowGroup, test: (fn: number) => boolean, kind: 'self' | 'total'): number {
  let v = 0;
  for (const row of g.stacks) {
    const s = window.summaries.get(row.stackId)!;
    if (kind === 'self' ? test(s.leaf) : s.functions.some(test)) v += row.value;
  }
  return v;
}
