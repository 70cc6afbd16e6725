import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import { InputError } from './errors.js';
import type { Labels } from './labels.js';
import { getLabel } from './labels.js';

/**
 * Label matchers, and the one regular-expression dialect of Kiln.
 *
 * Every regex a user hands Kiln — a selector's `=~`/`!~`, the focus/hide/filter of a flame graph or top
 * table, a `relabel_configs` regex — is compiled by `compileRegex` below, so it means the same thing
 * wherever it is written:
 *
 * - **RE2 syntax** (Go's `regexp`, as Prometheus, Pyroscope and pprof use; see
 *   https://github.com/google/re2/wiki/Syntax): inline flags `(?i)` `(?s)` `(?m)` `(?U)`, named groups
 *   `(?P<name>…)` and `(?<name>…)`, `\pL` / `[[:alpha:]]` classes, repeats up to `{1000}`. No
 *   backreferences (`\1`) and no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`): those need backtracking.
 * - **`.` matches a newline**, as in Prometheus (which compiles a matcher as `^(?s:re)$`); `(?-s)` turns
 *   it off.
 * - **Anchored** (selectors, relabeling): the whole value must match, `=~"web"` does not match `webapp`.
 *   Unlike Prometheus' string wrapping, the pattern is parsed on its own, so `a)|(b` is an error rather
 *   than a different pattern. **Unanchored** (focus/hide/filter, like pprof's `-focus`): any substring.
 * - **Linear time** in the input (re2js: a lazy DFA, falling back to a Pike VM), never a backtracking
 *   `RegExp`. With `RegExp`, `{v=~"(a+)+$"}` against a stored value of 30 `a`s and a `!` held the event
 *   loop for ~40 s, every tenant included; here it is answered in well under a millisecond.
 * - A pattern RE2 refuses is an `InputError` (400) naming the pattern and the reason.
 *
 * Compiled patterns are cached (least recently used, bounded by count and by program size), since the
 * same few selectors arrive again and again and a match is tested once per series.
 */

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

export interface RegexOptions {
  /** true: the whole input must match (selectors, relabeling). false: any substring (focus/hide/filter). */
  readonly anchored: boolean;
}

/** One match of a compiled regex, for replacement templates (`$1`, `${name}`). */
export interface RegexMatch {
  /**
   * The text of a capture group by number (0 = the whole match) or name; undefined when the group
   * did not take part in the match or the pattern has no such group.
   */
  group(ref: number | string): string | undefined;
}

/** A user regex compiled in Kiln's dialect (see the module header). */
export interface CompiledRegex {
  readonly pattern: string;
  readonly anchored: boolean;
  /** Does the input match (the whole of it when anchored, any part otherwise)? Linear time. */
  test(input: string): boolean;
  /** The first match with its groups (the whole input when anchored), or undefined. Linear time. */
  match(input: string): RegexMatch | undefined;
}

/** Longer patterns are not typed by a person; a selector is capped at 64 KiB too. */
export const MAX_REGEX_CHARS = 64 * 1024;

/** Compiles a user regex in Kiln's dialect, from a bounded cache; InputError when RE2 refuses it. */
export function compileRegex(pattern: string, opts: RegexOptions): CompiledRegex {
  const key = (opts.anchored ? 'A' : 'U') + pattern;
  const hit = cache.get(key);
  if (hit) {
    // Re-insert: Map iteration order is insertion order, so the first key is the least recently used.
    cache.delete(key);
    cache.set(key, hit);
    return hit.regex;
  }
  const re = parse(pattern);
  const regex = wrap(pattern, opts.anchored, re);
  remember(key, { regex, cost: re.programSize() });
  return regex;
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
        if (!compileRegex(m.value, ANCHORED).test(v)) return false;
        break;
      case '!~':
        if (compileRegex(m.value, ANCHORED).test(v)) return false;
        break;
    }
  }
  return true;
}

const ANCHORED: RegexOptions = { anchored: true };

function parse(pattern: string): RE2JS {
  const shown = JSON.stringify(pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern);
  if (pattern.length > MAX_REGEX_CHARS) {
    throw new InputError(`regex ${shown} is ${pattern.length} characters long (limit ${MAX_REGEX_CHARS})`);
  }
  try {
    return RE2JS.compile(pattern, RE2JS.DOTALL);
  } catch (e) {
    if (!(e instanceof RE2JSException)) throw e;
    throw new InputError(`regex ${shown} is not valid RE2: ${reason(pattern, e)}`);
  }
}

/** The parser's reason, with the offending fragment when it is only part of the pattern. */
function reason(pattern: string, e: RE2JSException): string {
  if (!(e instanceof RE2JSSyntaxException)) return e.message;
  const why = e.getDescription();
  const at = e.getPattern() ?? '';
  const look = /^\(\?<?[=!]/.exec(at);
  if (look) return `${look[0].includes('<') ? 'lookbehind' : 'lookahead'} \`${look[0]}\` is not supported (RE2 has no lookaround)`;
  // The DOTALL flag reaches the parser as a `(?s)` prefix; a fragment holding the whole pattern adds nothing.
  const fragment = at === '' || at.endsWith(pattern) ? '' : ` \`${at}\``;
  const hint = /^\\[1-9]/.test(at) ? ' (RE2 has no backreferences)' : '';
  return `${why}${fragment}${hint}`;
}

function wrap(pattern: string, anchored: boolean, re: RE2JS): CompiledRegex {
  const names = new Set(Object.keys(re.namedGroups()));
  const groups = re.groupCount();
  return {
    pattern,
    anchored,
    test: anchored ? (input) => re.testExact(input) : (input) => re.test(input),
    match(input) {
      const m = re.matcher(input);
      if (!(anchored ? m.matches() : m.find())) return undefined;
      return {
        group(ref) {
          if (typeof ref === 'number') {
            if (!Number.isInteger(ref) || ref < 0 || ref > groups) return undefined;
          } else if (!names.has(ref)) {
            return undefined;
          }
          return m.group(ref) ?? undefined;
        },
      };
    },
  };
}

interface CacheEntry {
  readonly regex: CompiledRegex;
  /** RE2 program size: a rough measure of the memory a compiled pattern holds. */
  readonly cost: number;
}

const CACHE_ENTRIES = 512;
/**
 * Measured with re2js 2.10: a 70 KB alternation of 4 000 pod names compiles to ~1 300 instructions, while
 * `.{1000}` written 500 times compiles to 500 000 (in ~0.4 s). The newest pattern is always kept, even
 * past the budget: `matches` tests it once per series, and compiling it again for each would be the cost.
 */
const CACHE_COST = 1_000_000;
const cache = new Map<string, CacheEntry>();
let cacheCost = 0;

function remember(key: string, entry: CacheEntry): void {
  cache.set(key, entry);
  cacheCost += entry.cost;
  for (const [k, old] of cache) {
    if (cache.size === 1 || (cache.size <= CACHE_ENTRIES && cacheCost <= CACHE_COST)) break;
    cache.delete(k);
    cacheCost -= old.cost;
  }
}
