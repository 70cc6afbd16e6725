import type { Matcher } from '../model/matcher.js';
import { formatMatchers } from '../query/selector.js';

/**
 * Where a metric's figure comes from — a profile type, the matchers of the series it merged and,
 * for a function, the function — so an alert or a dashboard can open the flame graph behind it.
 */
export interface FlameOrigin {
  readonly profileType: string;
  readonly matchers: readonly Matcher[];
  /**
   * What the UI's search box highlights: a function name (a plain, case-insensitive substring in the
   * UI), or `/regex/` for a recording rule's function pattern.
   */
  readonly search?: string;
}

/**
 * A link into Kiln's web UI showing the flame graph of `origin` over [fromMs, toMs). The UI keeps all
 * its state in the query string (ui/src/state/url-state.ts): type, query (the `{…}` matchers),
 * from/until (Unix ms read by src/query/time.ts) and search.
 */
export function flameGraphUrl(baseUrl: string, origin: FlameOrigin, fromMs: number, toMs: number): string {
  const p = new URLSearchParams();
  p.set('type', origin.profileType);
  p.set('query', formatMatchers(origin.matchers));
  p.set('from', String(Math.floor(fromMs)));
  p.set('until', String(Math.ceil(toMs)));
  if (origin.search) p.set('search', origin.search);
  return `${baseUrl.replace(/\/+$/, '')}/?${p.toString()}`;
}

/** The UI search for a recording rule's anchored function regex (the UI's /…/ search is unanchored). */
export function anchoredSearch(pattern: string): string {
  return `/^(?:${pattern})$/`;
}
