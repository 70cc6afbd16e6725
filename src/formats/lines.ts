import type { Profile } from '../model/index.js';
import type { TypedDecodeOptions } from './options.js';
import { StackAccumulator, textLines } from './stack-text.js';

/**
 * Pyroscope's `format=lines`: every non-blank line is one sampled stack `root;caller;leaf`, worth 1.
 * (rbspy and py-spy's raw output; counting repeats is the server's job here.)
 */
export function parseLines(text: string, opts: TypedDecodeOptions): Profile {
  const acc = new StackAccumulator();
  for (const [, line] of textLines(text)) {
    if (line.trim() === '') continue;
    acc.add(line.split(';'), 1);
  }
  return acc.profile(opts, 'lines input');
}
