import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { labelsFrom } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { matches } from '../model/matcher.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';

/**
 * Pyroscope's private labels describe a series' profile type rather than the series: Grafana selects on
 * `__profile_type__="process_cpu:cpu:nanoseconds:cpu:nanoseconds"` or `__name__="process_cpu"`, and
 * Profiles Drilldown on `__type__`, `__unit__` … Kiln stores the type beside the labels, not as labels,
 * so these matchers are split off here and evaluated against the type itself.
 */
export const PROFILE_TYPE_LABEL = '__profile_type__';
/** The type's name (`process_cpu`, `memory`); Kiln also reads a full type id written here. */
export const NAME_LABEL = '__name__';

/** Every private label Pyroscope derives from a profile type, with its value for `t`. */
export function typeLabels(t: ProfileType): Labels {
  return labelsFrom({
    [PROFILE_TYPE_LABEL]: profileTypeId(t),
    [NAME_LABEL]: t.name,
    __type__: t.sampleType,
    __unit__: t.sampleUnit,
    __period_type__: t.periodType,
    __period_unit__: t.periodUnit,
  });
}

const TYPE_LABEL_NAMES: ReadonlySet<string> = new Set([PROFILE_TYPE_LABEL, NAME_LABEL, '__type__', '__unit__', '__period_type__', '__period_unit__']);

/** Whether a label name is one of the private labels typeLabels() derives from a type. */
export function isTypeLabel(name: string): boolean {
  return TYPE_LABEL_NAMES.has(name);
}

export interface SplitMatchers {
  /** Matchers on the type (private labels), canonical: a full id is always a `__profile_type__` matcher. */
  readonly type: Matcher[];
  /** Matchers on the series' own labels: what the store selects by. */
  readonly labels: Matcher[];
}

/**
 * Splits a selector's matchers into matchers on the type and matchers on labels. `typeText` is what
 * was written before the braces: a full type id, or (when listing) a type name alone. Other private
 * labels (`__delta__` …) stay label matchers with Prometheus semantics: no stored series has them (ingest
 * drops `__*` labels), so `=` on one selects nothing and `!=` everything, as written.
 */
export function splitTypeMatchers(typeText: string | undefined, matchers: readonly Matcher[]): SplitMatchers {
  const type: Matcher[] = [];
  const labels: Matcher[] = [];
  if (typeText !== undefined && typeText !== '') type.push(typeTextMatcher(typeText));
  for (const m of matchers) {
    if (m.name === PROFILE_TYPE_LABEL && m.op === '=') type.push({ name: PROFILE_TYPE_LABEL, op: '=', value: canonicalId(m.value) });
    // `{__name__="process_cpu:cpu:…"}` is Kiln's spelling of a full type; a name has no colon.
    else if (m.name === NAME_LABEL && m.op === '=' && m.value.includes(':')) type.push({ name: PROFILE_TYPE_LABEL, op: '=', value: canonicalId(m.value) });
    else if (TYPE_LABEL_NAMES.has(m.name)) type.push(m);
    else labels.push(m);
  }
  return { type, labels };
}

/** The type id every `__profile_type__ = id` matcher agrees on, undefined when none pins one. */
export function pinnedTypeId(type: readonly Matcher[]): string | undefined {
  let id: string | undefined;
  for (const m of type) {
    if (m.name !== PROFILE_TYPE_LABEL || m.op !== '=') continue;
    if (id !== undefined && id !== m.value) throw new InputError(`selector: profile type given twice ("${id}" and "${m.value}")`);
    id = m.value;
  }
  return id;
}

/** Whether a profile type satisfies every type matcher (Prometheus semantics, as for labels). */
export function typeMatches(t: ProfileType, type: readonly Matcher[]): boolean {
  return type.length === 0 || matches(typeLabels(t), type);
}

function typeTextMatcher(text: string): Matcher {
  if (text.includes(':')) return { name: PROFILE_TYPE_LABEL, op: '=', value: canonicalId(text) };
  return { name: NAME_LABEL, op: '=', value: text };
}

/** The 5-part id of a type written in any accepted spelling (Parca's `:delta` suffix included). */
function canonicalId(text: string): string {
  return profileTypeId(parseProfileType(text));
}
