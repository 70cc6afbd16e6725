import { InputError } from '../model/errors.js';
import { compileRegex } from '../model/matcher.js';
import type { CompiledRegex } from '../model/matcher.js';

/**
 * A regression gate, as written after `--fail-on` (or `fail_on=` on the server):
 *
 *   any>+20%              any function whose total share rose by more than 20 % of itself
 *   total(REGEX)>+10%     the total share of stacks through a function matching REGEX
 *   self(REGEX)>+2pp      the share of samples whose leaf (running function) matches REGEX, in percentage points
 *
 * `%` is relative to the base share, `pp` is percentage points of the whole profile. REGEX is RE2,
 * unanchored like pprof's -focus (`total(json\.Marshal)` matches `encoding/json.Marshal`). A gate breaks
 * only on a rise that is also significant (compare.ts): a change inside sampling noise never breaks one.
 */
export interface Gate {
  /** As the user wrote it (messages quote it). */
  readonly text: string;
  /** `any`: each function's total share on its own; `total`/`self`: the functions matching `pattern`, together. */
  readonly target: 'any' | 'total' | 'self';
  readonly pattern: CompiledRegex | undefined;
  /** In the unit below; the gate breaks when the change is strictly greater. */
  readonly threshold: number;
  readonly unit: '%' | 'pp';
}

const THRESHOLD = />\s*([+-]?\d+(?:\.\d+)?)\s*(%|pp)\s*$/;

export function parseGate(text: string): Gate {
  const t = text.trim();
  const m = THRESHOLD.exec(t);
  if (!m) throw new InputError(`--fail-on "${t.slice(0, 200)}": expected TARGET>+N% or TARGET>+Npp, e.g. 'any>+20%', 'total(json\\.Marshal)>+10%', 'self(regexp\\.)>+2pp'`);
  const threshold = Number(m[1]);
  const unit = m[2] as '%' | 'pp';
  const head = t.slice(0, m.index).trim();
  if (head === 'any') return { text: t, target: 'any', pattern: undefined, threshold, unit };
  const call = /^(total|self)\((.*)\)$/s.exec(head);
  if (!call) throw new InputError(`--fail-on "${t.slice(0, 200)}": the target must be any, total(REGEX) or self(REGEX), got "${head.slice(0, 100)}"`);
  const source = call[2]!;
  if (source === '') throw new InputError(`--fail-on "${t.slice(0, 200)}": ${call[1]}() needs a regex of function names`);
  let pattern: CompiledRegex;
  try {
    pattern = compileRegex(source, { anchored: false });
  } catch (e) {
    throw new InputError(`--fail-on "${t.slice(0, 200)}": ${(e as Error).message}`);
  }
  return { text: t, target: call[1] as 'total' | 'self', pattern, threshold, unit };
}

/** Does the move from share `base` to share `head` (fractions, 0..1) exceed the gate's threshold? */
export function exceeds(gate: Gate, base: number, head: number): boolean {
  if (gate.unit === 'pp') return (head - base) * 100 > gate.threshold;
  const relative = relativeChange(base, head);
  // A function absent from the base has no relative change: any significant share is more than any %.
  return relative !== null ? relative * 100 > gate.threshold : head > 0;
}

/** (head − base) / base; null when the base share is 0 (a function new in head: "new", not a percentage). */
export function relativeChange(base: number, head: number): number | null {
  return base > 0 ? (head - base) / base : null;
}
