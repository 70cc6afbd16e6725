import { InputError } from '../model/errors.js';
import { formatValue } from '../cli/table.js';
import type { FunctionShare, Summary } from './summary.js';

/**
 * A summary as text (for a person or an LLM prompt) or JSON (for a program), cut to a token budget.
 *
 * Tokens are estimated at ~4 characters each, the usual figure for English and code with BPE tokenizers
 * (OpenAI's guidance; symbol-heavy text runs a little denser, so the budget is a ceiling, not a target).
 * Lists are sorted most important first, so fitting cuts every list from its end, step by step, and
 * elides the middle of long paths, keeping their root side (where the request comes in) and their leaf
 * side (where the time is spent).
 */
export type SummaryFormat = 'text' | 'json';

export const DEFAULT_MAX_TOKENS = 2000;
const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export function parseSummaryFormat(s: string): SummaryFormat {
  if (s === 'text' || s === 'json') return s;
  throw new InputError(`unknown format "${s.slice(0, 40)}": use text or json`);
}

/** Fractions of each list kept, and frames kept per path, from the whole summary down to its bones. */
const LEVELS: readonly (readonly [number, number])[] = [
  [1, 24], [0.7, 14], [0.5, 10], [0.35, 8], [0.25, 6], [0.15, 5], [0.08, 4], [0, 3],
];

/** The largest cut of the summary whose rendering fits `maxTokens` (0 = no limit). */
export function fitSummary(s: Summary, format: SummaryFormat, maxTokens: number): string {
  let rendered = '';
  for (const [fraction, frames] of maxTokens > 0 ? LEVELS : LEVELS.slice(0, 1)) {
    rendered = renderSummary(cut(s, fraction, frames), format);
    if (maxTokens <= 0 || estimateTokens(rendered) <= maxTokens) return rendered;
  }
  // Even the bones are too long (a tiny budget): cut the text itself, and say so.
  const note = '\n[cut to fit the token budget]\n';
  return rendered.slice(0, Math.max(0, maxTokens * CHARS_PER_TOKEN - note.length)) + note;
}

function keep<T>(list: readonly T[], fraction: number, atLeast: number): T[] {
  return list.slice(0, Math.max(atLeast, Math.ceil(list.length * fraction)));
}

/** `a → b → … 7 frames … → y → z`: the root side and the leaf side of a path. */
function elide(frames: readonly string[], max: number): string[] {
  if (frames.length <= max) return [...frames];
  const head = Math.max(1, Math.floor((max - 1) / 3));
  const tail = max - 1 - head;
  return [...frames.slice(0, head), `… ${frames.length - head - tail} frames …`, ...frames.slice(frames.length - tail)];
}

function cut(s: Summary, fraction: number, frames: number): Summary {
  return {
    ...s,
    hotPaths: keep(s.hotPaths, fraction, 1).map((p) => ({ ...p, frames: elide(p.frames, frames) })),
    hottest: keep(s.hottest, fraction, 1),
    callers: keep(s.callers, fraction, 0),
    binaries: keep(s.binaries, fraction, 0),
    packages: keep(s.packages, fraction, 0),
    ...(s.changes ? { changes: { ...s.changes, functions: keep(s.changes.functions, fraction, 1) } } : {}),
  };
}

export function renderSummary(s: Summary, format: SummaryFormat): string {
  return format === 'json' ? `${JSON.stringify(s, null, 2)}\n` : text(s);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function where(f: FunctionShare): string {
  const parts = [f.file, f.binary].filter((x) => x !== '');
  return parts.length > 0 ? `  (${parts.join(', ')})` : '';
}

/** `Total 12.34s of CPU in 1234 samples.`; a count unit is the samples themselves. */
function total(s: Summary): string {
  if (s.unit === 'count') return `Total ${s.samples} samples.`;
  return `Total ${formatValue(s.total, s.unit)}${s.unit === 'nanoseconds' || s.unit === 'bytes' ? '' : ` ${s.unit}`} in ${s.samples} samples.`;
}

function text(s: Summary): string {
  const range = s.from && s.until ? `, ${s.from} to ${s.until}` : '';
  // A selector names its type already; files do not.
  const what = s.selection.startsWith(s.profileType) ? s.selection : `${s.selection} (${s.profileType})`;
  const lines = [`Profile summary of ${what}${range}`, total(s)];
  if (s.hotPaths.length > 0) {
    lines.push('', 'Hot paths (share of all samples, caller → callee):');
    for (const p of s.hotPaths) lines.push(`  ${pct(p.share).padStart(6)}  ${p.frames.join(' → ')}`);
  }
  if (s.hottest.length > 0) {
    lines.push('', 'Hottest functions (self = running itself, total = with its callees):');
    for (const f of s.hottest) lines.push(`  ${pct(f.self).padStart(6)} self, ${pct(f.total).padStart(6)} total  ${f.name}${where(f)}`);
  }
  if (s.callers.length > 0) {
    lines.push('', 'Heavy callers (time spent in their callees):');
    for (const f of s.callers) lines.push(`  ${pct(f.total).padStart(6)} total, ${pct(f.self).padStart(6)} self  ${f.name}${where(f)}`);
  }
  // Folded and text formats carry no binaries: a lone "(unknown binary) 100%" says nothing.
  if (s.binaries.length > 0 && !(s.binaries.length === 1 && s.binaries[0]!.name === '(unknown binary)')) lines.push('', `Self time by binary: ${s.binaries.map((b) => `${b.name} ${pct(b.share)}`).join(', ')}`);
  if (s.packages.length > 0) lines.push(`Self time by package: ${s.packages.map((b) => `${b.name} ${pct(b.share)}`).join(', ')}`);
  if (s.changes) {
    const c = s.changes;
    lines.push('', `Changes against ${c.base} (${c.significant} functions changed beyond sampling noise; share before → after):`);
    if (c.functions.length === 0) lines.push('  none');
    for (const f of c.functions) lines.push(`  ${f.name}: total ${pct(f.totalBase)} → ${pct(f.totalHead)}, self ${pct(f.selfBase)} → ${pct(f.selfHead)}`);
  }
  return `${lines.join('\n')}\n`;
}
