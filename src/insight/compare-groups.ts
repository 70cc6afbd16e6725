import type { CompiledRegex } from '../model/matcher.js';
import type { WeightedStack } from '../query/stacks.js';

/**
 * The value of a group of functions (those matching a gate's regex) in merged stacks, each stack counted
 * once: `total` — stacks with a matching frame anywhere (as the top table counts a function's total, so a
 * recursive or doubly-matched stack is not counted twice); `self` — stacks whose leaf matches.
 */
export function groupValue(stacks: readonly WeightedStack[], pattern: CompiledRegex, kind: 'self' | 'total'): number {
  // Names repeat across stacks: test each distinct name once.
  const seen = new Map<string, boolean>();
  const matches = (name: string): boolean => {
    let m = seen.get(name);
    if (m === undefined) {
      m = pattern.test(name);
      seen.set(name, m);
    }
    return m;
  };
  let sum = 0;
  for (const s of stacks) {
    const f = s.frames;
    if (f.length === 0) continue;
    if (kind === 'self' ? matches(f[f.length - 1]!.name) : f.some((fr) => matches(fr.name))) sum += s.value;
  }
  return sum;
}
