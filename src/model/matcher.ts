import type { Labels } from './labels.js';
import { getLabel } from './labels.js';

/** A Prometheus label matcher. A missing label matches as the empty string (Prometheus semantics). */
export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** `profileType{matchers}` after parsing: what every query selects series by. */
export interface Selector {
  /** 5-part profile type id (see profile-type.ts). */
  readonly profileType: string;
  readonly matchers: readonly Matcher[];
}

const regexCache = new Map<string, RegExp>();

/** Regex matchers are anchored on both ends, as in Prometheus. */
export function matcherRegex(value: string): RegExp {
  let re = regexCache.get(value);
  if (!re) {
    re = new RegExp(`^(?:${value})$`, 's');
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(value, re);
  }
  return re;
}

export function matches(labels: Labels, matchers: readonly Matcher[]): boolean {
  for (const m of matchers) {
    const v = getLabel(labels, m.name) ?? '';
    switch (m.op) {
      case '=':
        if (v !== m.value) return false;
        break;
      case '!=':
        if (v === m.value) return false;
        break;
      case '=~':
        if (!matcherRegex(m.value).test(v)) return false;
        break;
      case '!~':
        if (matcherRegex(m.value).test(v)) return false;
        break;
    }
  }
  return true;
}
