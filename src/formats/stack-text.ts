import { DictionaryBuilder } from '../model/index.js';
import { EmptyProfileError } from './empty-profile.js';
import type { Profile } from '../model/index.js';
import type { TypedDecodeOptions } from './options.js';

/**
 * Shared by the text formats (folded, lines, perf script): adds root-first frame lists with counts to a
 * builder, summing repeats, and makes the Profile. Frames become one-line locations with no address.
 */
export class StackAccumulator {
  private readonly b = new DictionaryBuilder();
  private readonly rows = new Map<number, number>();
  private readonly stacks: number[] = [];
  private readonly values: number[] = [];
  /** frame name (+ binary) → location: text stacks repeat the same few hundred names thousands of times. */
  private readonly frames = new Map<string, number>();

  /** `frames` root first (folded order); `binaries` optionally names each frame's binary. */
  add(frames: readonly string[], value: number, binaries?: readonly string[]): void {
    if (value === 0) return;
    const locs = new Array<number>(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const bin = binaries?.[i];
      const key = bin ? `${frames[i]}\0${bin}` : frames[i]!;
      let loc = this.frames.get(key);
      if (loc === undefined) {
        loc = this.b.frame(frames[i]!, bin ? this.b.mapping(bin) : -1);
        this.frames.set(key, loc);
      }
      // Leaf first in the model: the last folded frame is the innermost.
      locs[frames.length - 1 - i] = loc;
    }
    const stack = this.b.stack(locs);
    const row = this.rows.get(stack);
    if (row !== undefined) {
      this.values[row]! += value;
    } else {
      this.rows.set(stack, this.values.length);
      this.stacks.push(stack);
      this.values.push(value);
    }
  }

  profile(opts: TypedDecodeOptions, what: string): Profile {
    if (this.stacks.length === 0) throw new EmptyProfileError(what);
    return {
      type: opts.type,
      labels: opts.labels ?? [],
      timeMs: opts.timeMs ?? Date.now(),
      durationNs: 0,
      period: 0,
      dict: this.b.dict,
      stacks: this.stacks,
      values: this.values,
    };
  }
}

/** Splits text into lines, tolerating CRLF; yields [1-based line number, line]. */
export function* textLines(text: string): Generator<[number, string]> {
  let n = 0;
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    n++;
    yield [n, raw.endsWith('\r') ? raw.slice(0, -1) : raw];
  }
}
