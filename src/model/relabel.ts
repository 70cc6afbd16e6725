import { createRequire } from 'node:module';
import { InputError } from './errors.js';
import { isValidLabelName, labelsFrom, type Labels } from './labels.js';
import { compileRegex, type CompiledRegex, type RegexMatch } from './matcher.js';

/**
 * Prometheus `relabel_configs`: the same YAML keys, defaults and semantics (anchored RE2 regex with `.`
 * matching newlines, as Prometheus compiles `^(?s:re)$`; `$1` / `${name}` replacements; an empty result
 * deletes the label), so rules copied from a Prometheus or Grafana Alloy config behave the same on Kiln's
 * agent (process labels) and in the server's scrape jobs (target labels). Regexes are compiled by the
 * model's `compileRegex`, Kiln's one dialect for user regexes.
 */

export const RELABEL_ACTIONS = ['replace', 'keep', 'drop', 'labelmap', 'labeldrop', 'labelkeep', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/** One rule as written in YAML. */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly modulus?: number;
  readonly action?: RelabelAction;
}

/** A validated rule with its regex compiled. */
export interface RelabelRule {
  readonly action: RelabelAction;
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  readonly regex: CompiledRegex;
  readonly targetLabel: string;
  readonly replacement: string;
  readonly modulus: number;
}

// node:crypto is loaded on the first hashmod, not at import: the agent imports this module for its relabel
// rules, most configurations have no hashmod, and loading the built-in costs resident memory (with two
// others made lazy: 60.4 → 59.0 MiB after the agent's imports, bench/agent-memory-imports.ts).
const requireBuiltin = createRequire(import.meta.url);

const KEYS = new Set(['source_labels', 'separator', 'regex', 'target_label', 'replacement', 'modulus', 'action']);
const NEEDS_TARGET = new Set<RelabelAction>(['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal']);

/** Validates `relabel_configs` (as parsed from YAML) and compiles them; InputError names the bad rule. */
export function compileRelabelConfigs(raw: unknown): RelabelRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InputError('relabel_configs must be a list of rules');
  return raw.map((r, i) => compileRule(r, i));
}

function compileRule(raw: unknown, i: number): RelabelRule {
  const where = `relabel_configs[${i}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${where} must be a mapping`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KEYS.has(k)) throw new InputError(`${where}: unknown key "${k}" (allowed: ${[...KEYS].join(', ')})`);
  const action = (r.action ?? 'replace') as RelabelAction;
  if (typeof action !== 'string' || !RELABEL_ACTIONS.includes(action.toLowerCase() as RelabelAction)) {
    throw new InputError(`${where}: unknown action "${String(action)}" (one of ${RELABEL_ACTIONS.join(', ')})`);
  }
  const act = action.toLowerCase() as RelabelAction;
  const sourceLabels = r.source_labels ?? [];
  if (!Array.isArray(sourceLabels) || !sourceLabels.every((s) => typeof s === 'string')) throw new InputError(`${where}: source_labels must be a list of label names`);
  const str = (k: string, dflt: string): string => {
    const v = r[k] ?? dflt;
    if (typeof v !== 'string') throw new InputError(`${where}: ${k} must be a string`);
    return v;
  };
  const regexText = str('regex', '(.*)');
  let regex: CompiledRegex;
  try {
    regex = compileRegex(regexText, { anchored: true });
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${where}: ${e.message}`);
    throw e;
  }
  const targetLabel = str('target_label', '');
  if (NEEDS_TARGET.has(act) && !targetLabel) throw new InputError(`${where}: action ${act} needs target_label`);
  const modulus = r.modulus ?? 0;
  if (typeof modulus !== 'number' || !Number.isInteger(modulus) || modulus < 0) throw new InputError(`${where}: modulus must be a positive integer`);
  if (act === 'hashmod' && modulus === 0) throw new InputError(`${where}: action hashmod needs modulus`);
  if (targetLabel && !targetLabel.includes('$') && !isValidLabelName(targetLabel)) throw new InputError(`${where}: target_label "${targetLabel}" is not a valid label name`);
  return { action: act, sourceLabels: sourceLabels as string[], separator: str('separator', ';'), regex, targetLabel, replacement: str('replacement', '$1'), modulus };
}

/** Applies rules in order; undefined when a keep/drop rule dropped the target. */
export function relabel(labels: Labels, rules: readonly RelabelRule[]): Labels | undefined {
  if (rules.length === 0) return labels;
  const lb = new Map<string, string>(labels.map((l) => [l.name, l.value]));
  for (const rule of rules) if (!applyRule(lb, rule)) return undefined;
  return labelsFrom(lb);
}

function applyRule(lb: Map<string, string>, r: RelabelRule): boolean {
  const value = r.sourceLabels.map((n) => lb.get(n) ?? '').join(r.separator);
  switch (r.action) {
    case 'keep':
      return r.regex.test(value);
    case 'drop':
      return !r.regex.test(value);
    case 'keepequal':
      return value === (lb.get(r.targetLabel) ?? '');
    case 'dropequal':
      return value !== (lb.get(r.targetLabel) ?? '');
    case 'replace': {
      const m = r.regex.match(value);
      if (!m) return true;
      const target = expand(r.targetLabel, m);
      if (!isValidLabelName(target)) return true;
      const out = expand(r.replacement, m);
      if (out === '') lb.delete(target);
      else lb.set(target, out);
      return true;
    }
    case 'lowercase':
      setOrDelete(lb, r.targetLabel, value.toLowerCase());
      return true;
    case 'uppercase':
      setOrDelete(lb, r.targetLabel, value.toUpperCase());
      return true;
    case 'hashmod': {
      const { createHash } = requireBuiltin('node:crypto') as typeof import('node:crypto');
      // Prometheus: the low 8 bytes of the MD5, big-endian, modulo the modulus.
      const sum = createHash('md5').update(value).digest();
      lb.set(r.targetLabel, (sum.readBigUInt64BE(8) % BigInt(r.modulus)).toString());
      return true;
    }
    case 'labelmap':
      for (const [name, v] of [...lb]) {
        const m = r.regex.match(name);
        if (m) {
          const to = expand(r.replacement, m);
          if (isValidLabelName(to)) lb.set(to, v);
        }
      }
      return true;
    case 'labeldrop':
      for (const name of [...lb.keys()]) if (r.regex.test(name)) lb.delete(name);
      return true;
    case 'labelkeep':
      for (const name of [...lb.keys()]) if (!r.regex.test(name)) lb.delete(name);
      return true;
  }
}

function setOrDelete(lb: Map<string, string>, name: string, value: string): void {
  if (value === '') lb.delete(name);
  else lb.set(name, value);
}

/**
 * Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}` take the longest run of word characters as the
 * name (so `$1x` is the group named "1x", empty); `$$` is a dollar; a `$` that starts no name is kept.
 */
export function expand(template: string, m: RegexMatch): string {
  if (!template.includes('$')) return template;
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    if (template[d + 1] === '$') {
      out += '$';
      i = d + 2;
      continue;
    }
    let name: string | undefined;
    let next = d + 1;
    if (template[d + 1] === '{') {
      const close = template.indexOf('}', d + 2);
      const inner = close < 0 ? '' : template.slice(d + 2, close);
      if (/^\w+$/.test(inner)) {
        name = inner;
        next = close + 1;
      }
    } else {
      const w = /^\w+/.exec(template.slice(d + 1));
      if (w) {
        name = w[0];
        next = d + 1 + name.length;
      }
    }
    if (name === undefined) {
      out += '$';
      i = d + 1;
      continue;
    }
    out += m.group(/^\d+$/.test(name) ? Number(name) : name) ?? '';
    i = next;
  }
  return out;
}
