import { InputError } from '../model/errors.js';
import type { Selector } from '../model/matcher.js';
import type { TimeRange } from '../store/store.js';
import { parseSelector } from './selector.js';
import { checkRange, parseDuration, parseTime } from './time.js';

/**
 * `SELECTOR@RANGE`, one side of a command-line diff (`kiln query diff --base … --head …`):
 *   type{service_name="api", version="1.4"}@now-2h..now-1h   from..until
 *   type{service_name="api"}@1h                             the last hour (a duration)
 *   type{service_name="api"}@2024-05-01T10:00:00Z           from then until now
 *   type{service_name="api"}                                the default range
 * The range is split at the last `@` after the closing brace, so `@` inside label values is safe.
 */
export interface Selection {
  readonly selector: Selector;
  readonly range: TimeRange;
}

export function parseSelection(text: string, defaultRange: TimeRange, nowMs: number = Date.now()): Selection {
  const brace = text.lastIndexOf('}');
  const at = text.indexOf('@', brace + 1);
  if (at < 0) return { selector: parseSelector(text), range: defaultRange };
  const selector = parseSelector(text.slice(0, at));
  const spec = text.slice(at + 1).trim();
  if (spec === '') throw new InputError(`"${text.slice(0, 200)}": nothing after "@" (use e.g. @now-2h..now-1h or @1h)`);
  let range: TimeRange;
  const dots = spec.indexOf('..');
  if (dots >= 0) {
    range = { from: parseTime(spec.slice(0, dots), nowMs), to: parseTime(spec.slice(dots + 2), nowMs) };
  } else if (/^\d+(\.\d+)?(ms|s|m|h|d|w|y)/.test(spec) && !/^\d+$/.test(spec)) {
    range = { from: nowMs - parseDuration(spec), to: nowMs };
  } else {
    range = { from: parseTime(spec, nowMs), to: nowMs };
  }
  checkRange(range);
  return { selector, range };
}
