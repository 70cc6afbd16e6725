import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { CompiledRegex } from '../model/matcher.js';
import { formatSelector, parseSelector } from '../query/selector.js';
import { allowed, DEFAULT_BINARY_ALLOW, DEFAULT_FILE_ALLOW, DEFAULT_FUNCTION_ALLOW } from './redact-allow.js';
import type { Summary } from './summary.js';

/**
 * Redaction of a summary before it leaves the machine (to an LLM, a ticket, a chat): function, file,
 * binary, package names and label values are replaced with pseudonyms that are
 *   - stable: HMAC-SHA256 of the name under a secret key, so the same function has the same pseudonym in
 *     every summary and run (an LLM can follow it across questions), and
 *   - reversible only by whoever holds the key or the mapping (redact-reveal.ts): the key never leaves.
 * Which names: in `allow-list` mode every name outside the allow-list of runtime and library names
 * (redact-allow.ts); in `patterns` mode only names matching a configured pattern. Patterns are
 * redacted in both modes, so they can also take back a name the allow-list would let through.
 */
export type NameKind = 'fn' | 'file' | 'bin' | 'pkg' | 'label';

export interface RedactPolicy {
  readonly mode: 'allow-list' | 'patterns';
  /** Unanchored RE2 over the whole name (a file's or binary's whole path); a match is always redacted. */
  readonly patterns: readonly CompiledRegex[];
  readonly allowFunctions: readonly string[];
  readonly allowBinaries: readonly string[];
  readonly allowFiles: readonly string[];
}

export const DEFAULT_POLICY: RedactPolicy = {
  mode: 'allow-list',
  patterns: [],
  allowFunctions: DEFAULT_FUNCTION_ALLOW,
  allowBinaries: DEFAULT_BINARY_ALLOW,
  allowFiles: DEFAULT_FILE_ALLOW,
};

/** `fn_0123456789`: the kind, then 40 bits of the HMAC (a collision among 10 000 names: ~5e-5). */
export const PSEUDONYM = /\b(fn|file|bin|pkg|label)_[0-9a-f]{10}\b/g;

export class Redactor {
  /** pseudonym → original, for every name this redactor replaced: the local mapping (never sent). */
  readonly mapping = new Map<string, string>();

  constructor(
    private readonly key: Uint8Array,
    private readonly policy: RedactPolicy = DEFAULT_POLICY,
  ) {
    if (key.length < 16) throw new Error('a redaction key must hold at least 16 bytes');
  }

  /** The pseudonym a name has under this key, whether or not the policy would redact it. */
  pseudonym(kind: NameKind, name: string): string {
    return `${kind}_${createHmac('sha256', this.key).update(`${kind}\0${name}`).digest('hex').slice(0, 10)}`;
  }

  /** The name as it may be shown: itself when the policy keeps it, else its pseudonym (remembered). */
  name(kind: NameKind, name: string): string {
    if (name === '' || this.keeps(kind, name)) return kind === 'bin' && this.policy.mode === 'allow-list' ? path.basename(name) : name;
    const p = this.pseudonym(kind, name);
    this.mapping.set(p, name);
    return p;
  }

  private keeps(kind: NameKind, name: string): boolean {
    if (this.policy.patterns.some((re) => re.test(name))) return false;
    if (this.policy.mode === 'patterns') return true;
    switch (kind) {
      case 'fn':
        // Kernel frames carry the `_[k]` mark (perf and Kiln's folded output): kernel code is nobody's secret.
        return name.endsWith('_[k]') || allowed(name, this.policy.allowFunctions);
      case 'pkg':
        // A package is allowed when the functions in it would be (`runtime` ← `runtime.*`, `net/http` ← `net/*`).
        return [name, `${name}.`, `${name}/`, `${name}::`].some((n) => allowed(n, this.policy.allowFunctions));
      case 'bin':
        return allowed(path.basename(name), this.policy.allowBinaries);
      case 'file':
        return allowed(name, this.policy.allowFiles);
      case 'label':
        return false;
    }
  }

  /**
   * A selector (optionally `@range`) with every label value redacted: values name services, teams,
   * customers. Text without braces is what summaries say of files ("2 profile files"), which names nothing.
   */
  selection(text: string): string {
    if (!text.includes('{')) return /^\d+ profile files?$/.test(text) ? text : this.name('label', text);
    const brace = text.lastIndexOf('}');
    const range = text.slice(brace + 1);
    // A range is times and durations only; anything else is not known to be harmless.
    if (!/^(@[\w:.+-]*(\.\.[\w:.+-]*)?)?$/.test(range)) return this.name('label', text);
    try {
      const s = parseSelector(text.slice(0, brace + 1));
      return formatSelector({ ...s, matchers: s.matchers.map((m) => ({ ...m, value: this.name('label', m.value) })) }) + range;
    } catch {
      return this.name('label', text);
    }
  }
}

/** The summary with every name passed through the redactor. */
export function redactSummary(s: Summary, r: Redactor): Summary {
  const fn = (f: Summary['hottest'][number]) => ({ ...f, name: r.name('fn', f.name), file: r.name('file', f.file), binary: r.name('bin', f.binary) });
  return {
    ...s,
    selection: r.selection(s.selection),
    hotPaths: s.hotPaths.map((p) => ({ ...p, frames: p.frames.map((f) => r.name('fn', f)) })),
    hottest: s.hottest.map(fn),
    callers: s.callers.map(fn),
    binaries: s.binaries.map((b) => ({ ...b, name: r.name('bin', b.name) })),
    packages: s.packages.map((p) => ({ ...p, name: r.name('pkg', p.name) })),
    ...(s.changes
      ? { changes: { ...s.changes, base: r.selection(s.changes.base), functions: s.changes.functions.map((c) => ({ ...c, name: r.name('fn', c.name) })) } }
      : {}),
  };
}
