import type { Profile } from '../model/index.js';
import type { TypedDecodeOptions } from './options.js';
import { StackAccumulator, textLines } from './stack-text.js';

/**
 * `perf script` text → folded stacks, naming frames exactly as FlameGraph's stackcollapse-perf.pl does
 * (checked byte for byte against its published results in the conformance corpus).
 *
 * Options, as stackcollapse-perf.pl spells them:
 *   pid    root frame `comm-PID` (`comm-?` when perf printed only a TID)
 *   tid    root frame `comm-PID/TID`
 *   kernel suffix `_[k]` on kernel frames (module `[…]` or `…vmlinux`)
 *   jit    suffix `_[j]` on JIT frames (module `/tmp/perf-PID.map`)
 *   all    kernel + jit
 *   addrs  unsymbolized frames keep their address: `[unknown <7f…>]`
 *   eventFilter  keep only samples of this event; by default the first event seen, because summing
 *          cycles with instructions (say) gives a meaningless graph
 * Left out on purpose: `--inline` and `--context` run addr2line against the profiled binaries, which
 * exist on the profiled host, not on a Kiln server; perf's own `->` inline chains are still honoured.
 */
export interface PerfScriptOptions {
  readonly pid?: boolean;
  readonly tid?: boolean;
  readonly kernel?: boolean;
  readonly jit?: boolean;
  readonly all?: boolean;
  readonly addrs?: boolean;
  readonly eventFilter?: string;
}

/** One collapsed stack: frame names root first (the process name is the root) and their binaries. */
interface Frame {
  readonly name: string;
  readonly module: string;
}

const EVENT_LINE = /^(\S.+?)\s+(\d+)\/*(\d+)*\s+/;
const STACK_LINE = /^\s*(\w+)\s*(.+) \((\S*)\)/;
const SYMBOL_OFFSET = /\+0x[\da-f]+$/;
// A Go method name such as `net/http.(*Client).Do` keeps its parentheses.
const GO_METHOD = /\.\(.*\)\./;
const ARGUMENTS = /\((?!anonymous namespace\)).*/;
const PERIOD = /:\s*(\d+)\s+\S+:\s*$/;
const KERNEL_MODULE = /^\[|vmlinux$/;
const JIT_MODULE = /\/tmp\/perf-\d+\.map/;

/** Walks `perf script` output and calls `emit` once per sample with its root-first frames. */
function walkPerfScript(text: string, opts: PerfScriptOptions, emit: (frames: Frame[], count: number) => void): void {
  const kernel = opts.kernel || opts.all;
  const jit = opts.jit || opts.all;
  let eventFilter = opts.eventFilter;
  let pname: string | undefined;
  let count = 1;
  let skipping = false;
  let stack: Frame[] = [];

  for (const [, line] of textLines(text)) {
    if (line.startsWith('#')) continue;
    if (line === '') {
      // End of a sample. A sample filtered out by event never set pname, and is dropped.
      if (pname !== undefined && !skipping) emit([{ name: pname, module: '' }, ...stack], count);
      stack = [];
      pname = undefined;
      skipping = false;
      continue;
    }
    if (pname === undefined && !skipping) {
      const m = EVENT_LINE.exec(line);
      if (m) {
        const [event, period] = eventAndPeriod(line);
        count = period;
        if (event !== undefined) {
          eventFilter ??= event;
          if (event !== eventFilter) {
            skipping = true;
            continue;
          }
        }
        const comm = m[1]!;
        const [pid, tid] = m[3] ? [m[2]!, m[3]] : ['?', m[2]!];
        const name = opts.tid ? `${comm}-${pid}/${tid}` : opts.pid ? `${comm}-${pid}` : comm;
        pname = name.replace(/ /g, '_');
        continue;
      }
    }
    if (skipping) continue;
    const s = STACK_LINE.exec(line);
    if (!s) continue; // perl warns "Unrecognized line" and goes on; so do we
    const pc = s[1]!;
    const mod = s[3]!;
    const rawfunc = s[2]!.replace(SYMBOL_OFFSET, '');
    if (rawfunc.startsWith('(')) continue; // a process name in parentheses, not a frame

    // perf writes inlined frames as `outer->inner`; the inner ones are marked `_[i]`.
    const parts = rawfunc.split('->');
    const frames: Frame[] = [];
    for (let i = 0; i < parts.length; i++) {
      let func = withModuleFallback(parts[i]!, mod, pc, opts.addrs === true);
      func = tidy(func, pname === 'java');
      if (i > 0) func += '_[i]';
      else if (kernel && KERNEL_MODULE.test(mod) && mod !== '[unknown]') func += '_[k]';
      else if (jit && JIT_MODULE.test(mod)) func += '_[j]';
      frames.push({ name: func, module: mod });
    }
    // Lines come leaf first; the folded stack is root first.
    stack.unshift(...frames);
  }
  // Like stackcollapse-perf.pl, a sample counts only once a blank line closes it: a file cut off
  // mid-sample (perf killed while writing) loses that last, possibly partial, stack.
}

/**
 * The event of an event line, its last word when that ends in ':' (`… 1234.5: cpu-clock:`), and the
 * sample's period when perf printed one before it (`…:   10101010 cpu-clock:`): a sample then weighs
 * its period (nanoseconds, faults, …), else 1.
 */
function eventAndPeriod(line: string): [string | undefined, number] {
  const words = line.trimEnd().split(/\s+/);
  const last = words[words.length - 1];
  if (!last || !last.endsWith(':')) return [undefined, 1];
  // The period sits between the timestamp's ':' and the event; without that ':' the number before the
  // event is the TID (`func_ab 15294 cpu-clock:`).
  const m = PERIOD.exec(line);
  const period = m?.[1] ? Number(m[1]) : 1;
  return [last.slice(0, -1), period || 1];
}

/** `[unknown]` frames are named after their binary (`[libc.so.6]`), with the address under `addrs`. */
function withModuleFallback(func: string, mod: string, pc: string, addrs: boolean): string {
  if (func !== '[unknown]') return func;
  let name: string;
  if (mod !== '[unknown]') name = mod.slice(mod.lastIndexOf('/') + 1);
  else if (addrs) name = 'unknown';
  else return func;
  return addrs ? `[${name} <${pc}>]` : `[${name}]`;
}

/** stackcollapse-perf.pl's clean-up: no `;` inside a frame, no argument lists, no quotes, Java `L` prefix. */
function tidy(func: string, java: boolean): string {
  let f = func.replace(/;/g, ':');
  if (!GO_METHOD.test(f)) f = f.replace(ARGUMENTS, '');
  f = f.replace(/["']/g, '');
  if (java && f.includes('/')) f = f.replace(/^L/, '');
  return f;
}

/** Folded text exactly as stackcollapse-perf.pl prints it: `stack count` lines sorted by byte order. */
export function collapsePerfScript(text: string, opts: PerfScriptOptions = {}): string {
  const counts = new Map<string, number>();
  walkPerfScript(text, opts, (frames, n) => {
    const key = frames.map((f) => f.name).join(';');
    counts.set(key, (counts.get(key) ?? 0) + n);
  });
  const keys = [...counts.keys()].sort(byteOrder);
  return keys.map((k) => `${k} ${counts.get(k)}\n`).join('');
}

/** Perl's `sort { $a cmp $b }` on byte strings: UTF-8 byte order, which is code point order. */
function byteOrder(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

/** `perf script` text as a Profile: one sample per perf sample, frames keep their binary as mapping. */
export function parsePerfScript(text: string, opts: TypedDecodeOptions & PerfScriptOptions): Profile {
  const acc = new StackAccumulator();
  walkPerfScript(text, opts, (frames, n) => {
    acc.add(
      frames.map((f) => f.name),
      n,
      frames.map((f) => f.module),
    );
  });
  return acc.profile(opts, 'perf script input');
}
