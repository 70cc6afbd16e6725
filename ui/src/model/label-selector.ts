import type { Matcher } from '../../../src/model/matcher.js';
import { formatMatchers, parseMatchers } from '../../../src/query/selector.js';

/**
 * The query bar's label selector (`{name="v", other=~"re.*"}`), read by the server's own parser
 * (src/query/selector.ts), so a selector the page accepts is one the server accepts, and a typo is shown
 * inline with the server's wording and column before any request goes out.
 */
export type SelectorCheck = { ok: true; matchers: readonly Matcher[] } | { ok: false; error: string };

export function checkLabelSelector(text: string): SelectorCheck {
  try {
    return { ok: true, matchers: parseMatchers(text) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Sets (or replaces) the equality matcher for `name`; an empty value removes it. Other matchers keep their order. */
export function withMatcher(selector: string, name: string, value: string): string {
  const parsed = checkLabelSelector(selector);
  const kept = parsed.ok ? parsed.matchers.filter((m) => m.name !== name) : [];
  return formatMatchers(value === '' ? kept : [...kept, { name, op: '=', value }]);
}

/** The value of an equality matcher in the selector, '' if none (or if the selector does not parse). */
export function matcherValue(selector: string, name: string): string {
  const parsed = checkLabelSelector(selector);
  if (!parsed.ok) return '';
  return parsed.matchers.find((m) => m.name === name && m.op === '=')?.value ?? '';
}
