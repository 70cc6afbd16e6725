import { InputError } from '../model/errors.js';
import { compileRegex } from '../model/matcher.js';
import type { CompiledRegex } from '../model/matcher.js';
import type { RedactPolicy } from './redact.js';
import { DEFAULT_POLICY } from './redact.js';
import { DEFAULT_MAX_TOKENS } from './summary-render.js';
import { Section } from './yaml-section.js';

/**
 * The `summaries:` section of kiln.yaml (docs/SUMMARIES.md), read by `/api/v1/summary` and by
 * `kiln summarize --config`:
 *
 *   summaries:
 *     max_tokens: 2000
 *     redact:
 *       mode: allow-list                 # or `patterns`: only names matching a pattern are replaced
 *       patterns: ['acme', '^github\.com/acme/']
 *       allow: { functions: ['github.com/gin-gonic/*'], binaries: [], files: [] }   # added to the built-in list
 *       key_file: /etc/kiln/summary.key
 */
export interface SummariesConfig {
  readonly maxTokens: number;
  readonly policy: RedactPolicy;
  /** Without it the server answers only unredacted summaries (it has no key to make pseudonyms with). */
  readonly keyFile: string | undefined;
}

export const DEFAULT_SUMMARIES: SummariesConfig = { maxTokens: DEFAULT_MAX_TOKENS, policy: DEFAULT_POLICY, keyFile: undefined };

export function summariesSection(v: unknown, file: string): SummariesConfig {
  const s = Section.of(v, file, 'summaries');
  s.allowOnly(['max_tokens', 'redact']);
  const r = s.section('redact');
  r.allowOnly(['mode', 'patterns', 'allow', 'key_file']);
  const mode = r.string('mode') ?? 'allow-list';
  if (mode !== 'allow-list' && mode !== 'patterns') throw new InputError(`${r.where('mode')} must be allow-list or patterns, got "${mode.slice(0, 40)}"`);
  const patterns = (r.stringList('patterns') ?? []).map((p, i) => compilePattern(p, r.where(`patterns[${i}]`)));
  if (mode === 'patterns' && patterns.length === 0) throw new InputError(`${r.where('mode')} is patterns but ${r.where('patterns')} is empty: nothing would be redacted`);
  const a = r.section('allow');
  a.allowOnly(['functions', 'binaries', 'files']);
  return {
    maxTokens: s.int('max_tokens', DEFAULT_MAX_TOKENS, 0, 1_000_000),
    keyFile: r.string('key_file'),
    policy: {
      mode,
      patterns,
      allowFunctions: [...DEFAULT_POLICY.allowFunctions, ...(a.stringList('functions') ?? [])],
      allowBinaries: [...DEFAULT_POLICY.allowBinaries, ...(a.stringList('binaries') ?? [])],
      allowFiles: [...DEFAULT_POLICY.allowFiles, ...(a.stringList('files') ?? [])],
    },
  };
}

/** A redaction pattern: unanchored RE2, as focus/hide (a pattern that fails to compile names its place). */
export function compilePattern(p: string, where: string): CompiledRegex {
  try {
    return compileRegex(p, { anchored: false });
  } catch (e) {
    throw new InputError(`${where}: ${(e as Error).message}`);
  }
}
