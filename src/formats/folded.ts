import { InputError, frameNames } from '../model/index.js';
import type { Profile } from '../model/index.js';
import type { TypedDecodeOptions } from './options.js';
import { StackAccumulator, textLines } from './stack-text.js';

/** Plain decimal counts only: `NaN`, `-3`, `0x10` or `1e400` are rejected, not guessed at. */
const COUNT = /^\d+(\.\d+)?$/;

/**
 * Brendan Gregg's folded stacks: one `root;caller;leaf COUNT` per line (what stackcollapse-*.pl and
 * Pyroscope's `format=folded` carry). Blank lines are skipped; repeated stacks are summed.
 */
export function parseFolded(text: string, opts: TypedDecodeOptions): Profile {
  const acc = new StackAccumulator();
  for (const [n, line] of textLines(text)) {
    if (line.trim() === '') continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) throw new InputError(`folded line ${n}: expected "frame;frame COUNT", got "${line.slice(0, 80)}"`);
    const countText = line.slice(sp + 1);
    const count = COUNT.test(countText) ? Number(countText) : NaN;
    if (!Number.isFinite(count)) {
      throw new InputError(`folded line ${n}: count "${countText.slice(0, 40)}" is not a non-negative number`);
    }
    const stack = line.slice(0, sp).trimEnd();
    if (stack === '') throw new InputError(`folded line ${n}: empty stack`);
    acc.add(stack.split(';'), count);
  }
  return acc.profile(opts, 'folded input');
}

/** Folded text of a profile: one line per distinct stack, root first, lines sorted, newline-terminated. */
export function toFolded(p: Profile): string {
  const totals = new Map<string, number>();
  for (let i = 0; i < p.stacks.length; i++) {
    const key = foldedStack(p, p.stacks[i]!);
    totals.set(key, (totals.get(key) ?? 0) + p.values[i]!);
  }
  const lines: string[] = [];
  for (const [stack, v] of totals) if (v !== 0) lines.push(`${stack} ${v}`);
  lines.sort();
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Root-first names of a stack; a location with inlined frames contributes each, outermost first. */
function foldedStack(p: Profile, stack: number): string {
  const locs = p.dict.stacks[stack]!;
  const names: string[] = [];
  for (let i = locs.length - 1; i >= 0; i--) {
    const frames = frameNames(p.dict, locs[i]!);
    for (let j = frames.length - 1; j >= 0; j--) names.push(frames[j]!);
  }
  return names.join(';');
}
