import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { matches } from '../model/matcher.js';
import { parseMatchers } from '../query/selector.js';
import type { MetricSample } from './exposition.js';
import { isMetricName } from './metric-names.js';

/**
 * The part of PromQL Kiln evaluates in alert rules: a threshold on one metric,
 *
 *   kiln_function_cpu_cores{service_name="checkout", kind="self"} > 0.5
 *   kiln:json_marshal:cpu_cores >= 2
 *   0.1 > kiln_service_cpu_cores            (the number may come first)
 *
 * with Prometheus' meaning: every series of the metric whose labels match and whose value passes the
 * comparison is one alert, labelled like the series. Anything more (aggregations, arithmetic between
 * series, functions) is refused at load with a message that says so: such a rule belongs in
 * Prometheus, which can load the same file and scrape the same metrics.
 */
export type Comparison = '>' | '<' | '>=' | '<=' | '==' | '!=';

export interface AlertExpr {
  readonly text: string;
  /** The metric name, or undefined when only `{__name__=…}` matchers select it. */
  readonly metric: string | undefined;
  /** Label matchers; `__name__` ones test the metric name. */
  readonly matchers: readonly Matcher[];
  /** The comparison as it applies to `series OP threshold` (a leading number is turned around). */
  readonly op: Comparison;
  readonly threshold: number;
}

const OPS: readonly Comparison[] = ['>=', '<=', '==', '!=', '>', '<'];
const FLIPPED: Record<Comparison, Comparison> = { '>': '<', '<': '>', '>=': '<=', '<=': '>=', '==': '==', '!=': '!=' };
const NUMBER = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|[iI][nN][fF]|[nN][aA][nN])$/;

export function parseAlertExpr(text: string): AlertExpr {
  const src = stripParens(text.trim());
  const at = findComparison(src);
  const unsupported = () =>
    new InputError(
      `"${text.slice(0, 200)}" is not an expression Kiln evaluates: write <metric>{<label matchers>} <op> <number> with op one of > < >= <= == != ` +
        '(for other PromQL, load this rule into Prometheus scraping Kiln)',
    );
  if (!at) throw unsupported();
  const left = stripParens(src.slice(0, at.index).trim());
  const right = stripParens(src.slice(at.index + at.op.length).trim());
  if (/^bool\b/.test(right)) throw unsupported();
  if (NUMBER.test(right) && !NUMBER.test(left)) return { text, ...vectorSelector(left, unsupported), op: at.op, threshold: parseNumber(right) };
  if (NUMBER.test(left) && !NUMBER.test(right)) return { text, ...vectorSelector(right, unsupported), op: FLIPPED[at.op], threshold: parseNumber(left) };
  throw unsupported();
}

/** Series of `samples` (by metric name) that pass the expression, each with its metric name in `__name__`. */
export function evaluateAlertExpr(expr: AlertExpr, metrics: ReadonlyMap<string, readonly MetricSample[]>): { name: string; sample: MetricSample }[] {
  const nameMatchers = expr.matchers.filter((m) => m.name === '__name__');
  const labelMatchers = expr.matchers.filter((m) => m.name !== '__name__');
  const names = expr.metric !== undefined ? [expr.metric] : [...metrics.keys()];
  const out: { name: string; sample: MetricSample }[] = [];
  for (const name of names) {
    if (nameMatchers.length > 0 && !matches([{ name: '__name__', value: name }], nameMatchers)) continue;
    for (const s of metrics.get(name) ?? []) {
      if (matches(s.labels, labelMatchers) && compare(s.value, expr.op, expr.threshold)) out.push({ name, sample: s });
    }
  }
  return out;
}

function compare(v: number, op: Comparison, t: number): boolean {
  switch (op) {
    case '>':
      return v > t;
    case '<':
      return v < t;
    case '>=':
      return v >= t;
    case '<=':
      return v <= t;
    case '==':
      return v === t;
    case '!=':
      return v !== t;
  }
}

function vectorSelector(text: string, unsupported: () => InputError): { metric: string | undefined; matchers: Matcher[] } {
  const brace = text.indexOf('{');
  const name = (brace < 0 ? text : text.slice(0, brace)).trim();
  if (name !== '' && !isMetricName(name)) throw unsupported();
  if (brace < 0) {
    if (name === '') throw unsupported();
    return { metric: name, matchers: [] };
  }
  if (!text.trimEnd().endsWith('}')) throw unsupported();
  let matchers: Matcher[];
  try {
    matchers = parseMatchers(text.slice(brace));
  } catch (e) {
    throw new InputError(`"${text.slice(0, 200)}": ${(e as Error).message}`);
  }
  if (name === '' && !matchers.some((m) => m.name === '__name__' && !matchesEmpty(m))) {
    // PromQL's own rule: a selector must say something about which series it reads.
    throw new InputError(`"${text.slice(0, 200)}": a selector without a metric name needs a __name__ matcher that does not match ""`);
  }
  return { metric: name === '' ? undefined : name, matchers };
}

function matchesEmpty(m: Matcher): boolean {
  const none: Labels = [];
  return matches(none, [m]);
}

/** The first comparison operator outside quotes and braces. */
function findComparison(src: string): { index: number; op: Comparison } | undefined {
  let quote = '';
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (depth === 0) {
      const op = OPS.find((o) => src.startsWith(o, i));
      // `=~` and `!~` are matchers, which live inside braces; outside them a lone `=` is no operator.
      if (op) return { index: i, op };
    }
  }
  return undefined;
}

/** `((x))` → `x`, but `(a) > (b)` stays: the first "(" must close at the very end. */
function stripParens(s: string): string {
  while (s.startsWith('(') && closingParen(s) === s.length - 1) s = s.slice(1, -1).trim();
  return s;
}

function closingParen(s: string): number {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function parseNumber(s: string): number {
  const t = s.toLowerCase().replace(/^\+/, '');
  if (t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t.endsWith('nan')) return NaN;
  return Number(t);
}
