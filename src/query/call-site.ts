import type { WeightedStack } from './stacks.js';

/**
 * Pyroscope's `stack_trace_selector.call_site` (SelectMergeStacktraces, SelectMergeProfile): function
 * names root first; only stacks that start with exactly this path are kept, whole (not re-rooted),
 * so the flame graph still starts at the root and its total is the call site's total. Empty keeps all.
 */
export function withCallSite(stacks: readonly WeightedStack[], callSite: readonly string[]): WeightedStack[] {
  if (callSite.length === 0) return stacks.slice();
  return stacks.filter((s) => s.frames.length >= callSite.length && callSite.every((name, i) => s.frames[i]!.name === name));
}
