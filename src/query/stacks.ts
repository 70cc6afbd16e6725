import { InputError } from '../model/errors.js';
import { compileRegex, type CompiledRegex } from '../model/matcher.js';
import { frameNames } from '../model/symbols.js';
import type { SymbolDictionary } from '../model/symbols.js';
import type { ResolvedStacks, StackValue } from '../store/store.js';

/**
 * One frame as the query layer sees it: the function shown (what trees and tables group by) and where
 * its code lives, so pprof export and line-level tables read the same merge as the flame graph.
 */
export interface Frame {
  /** The function, or `binary+0xaddr` when the location has no symbol. */
  readonly name: string;
  /** Path of the mapping (binary) the frame belongs to, '' when unknown. */
  readonly binary: string;
  /** GNU build id of that binary (hex), '' when unknown. */
  readonly buildId: string;
  /** Instruction address, 0 when unknown (symbolized frames often drop it: see DictionaryBuilder.location). */
  readonly address: bigint;
  /** Mangled / system name when it differs from `name`, else ''. */
  readonly systemName: string;
  /** Source file and line, '' / 0 when unknown. */
  readonly file: string;
  readonly line: number;
  /** false for a location without symbols: `name` is then `binary+0xaddr` and there is no function to export. */
  readonly symbolized: boolean;
  /**
   * The location (index into this merge's symbols) the frame comes from; the frames inlined at one
   * address share it. -1 for frames that stand for no location (an unresolved stack, test data).
   */
  readonly location: number;
  /** true when this frame was inlined into the frame before it (same location); recursion is false. */
  readonly inlined: boolean;
}

/** A stack with its merged value; frames root (outermost caller) first, leaf last. */
export interface WeightedStack {
  readonly frames: readonly Frame[];
  readonly value: number;
}

/** The name given to a stack the store could not resolve: its value still counts, so totals hold. */
export const UNRESOLVED_STACK = '[unresolved stack]';

/** A frame that stands for no location in the store (an unresolved stack): a function name only. */
export function namedFrame(name: string, binary = ''): Frame {
  return { name, binary, buildId: '', address: 0n, systemName: '', file: '', line: 0, symbolized: true, location: -1, inlined: false };
}

/**
 * Turns the store's (stack id, value) rows and their symbols into root-first frame lists.
 * Inlined functions expand into one frame each (caller above callee); unsymbolized locations show as
 * `binary+0xaddr`. Frames are built once per location and shared between stacks, so carrying the
 * location costs memory per distinct location, not per stack. The caller leaves out OTHER_STACK_ID
 * (the remainder of a limited merge), which has no frames.
 */
export function weightedStacks(rows: readonly StackValue[], resolved: ResolvedStacks): WeightedStack[] {
  const { dict } = resolved;
  const perLocation = new Map<number, Frame[]>();
  const framesOf = (loc: number): Frame[] => {
    let f = perLocation.get(loc);
    if (!f) {
      f = locationFrames(dict, loc);
      perLocation.set(loc, f);
    }
    return f;
  };
  const unresolved: Frame[] = [namedFrame(UNRESOLVED_STACK)];
  const out: WeightedStack[] = [];
  for (const row of rows) {
    if (row.value === 0) continue;
    const idx = resolved.stacks.get(row.stackId);
    if (idx === undefined) {
      out.push({ frames: unresolved, value: row.value });
      continue;
    }
    const locs = dict.stacks[idx]!;
    const frames: Frame[] = [];
    for (let i = locs.length - 1; i >= 0; i--) {
      const f = framesOf(locs[i]!);
      for (let j = 0; j < f.length; j++) frames.push(f[j]!);
    }
    out.push({ frames, value: row.value });
  }
  return out;
}

/** The frames of one location, root-first: the caller into which the others were inlined comes first. */
function locationFrames(dict: SymbolDictionary, loc: number): Frame[] {
  const l = dict.locations[loc]!;
  const m = l.mapping >= 0 ? dict.mappings[l.mapping]! : undefined;
  const binary = m?.binary ?? '';
  const buildId = m?.buildId ?? '';
  if (l.lines.length === 0) {
    const [name] = frameNames(dict, loc);
    return [{ name: name!, binary, buildId, address: l.address, systemName: '', file: '', line: 0, symbolized: false, location: loc, inlined: false }];
  }
  const out: Frame[] = [];
  // pprof order is innermost first; root-first wants the caller first.
  for (let i = l.lines.length - 1; i >= 0; i--) {
    const ln = l.lines[i]!;
    const fn = dict.functions[ln.function]!;
    out.push({
      name: fn.name,
      binary,
      buildId,
      address: l.address,
      systemName: fn.systemName,
      file: fn.file,
      line: ln.line,
      symbolized: true,
      location: loc,
      inlined: out.length > 0,
    });
  }
  return out;
}

/**
 * Stack filters, applied before a tree or table is built (so totals reflect what is shown).
 * All patterns are unanchored (any part of the name matches), as pprof's -focus/-hide are, and RE2 in
 * linear time like every user regex in Kiln (see `compileRegex` in src/model/matcher.ts).
 */
export interface StackFilter {
  /**
   * Keep only stacks with a frame whose function matches, re-rooted at the outermost such frame: the
   * graph then starts at the focused function and its total is the function's total (each stack once,
   * even when recursive). Pyroscope's "focus on subtree" is this with an exact name; pprof's -focus keeps
   * the same stacks but not re-rooted.
   */
  readonly focus?: string;
  /** Drop frames whose function matches, attaching their callees to their callers (pprof -hide). */
  readonly hide?: string;
  /** As `focus`, matching the frame's binary (mapping path) instead of its function. */
  readonly focusBinary?: string;
  /** As `hide`, matching the frame's binary. */
  readonly hideBinary?: string;
}

export function isEmptyFilter(f: StackFilter | undefined): boolean {
  return !f || (!f.focus && !f.hide && !f.focusBinary && !f.hideBinary);
}

/** Compiles a user's pattern (unanchored RE2); a bad one is an InputError naming the option. */
export function userRegex(pattern: string, what: string): CompiledRegex {
  if (pattern.length > 4096) throw new InputError(`${what} pattern is ${pattern.length} characters (limit 4096)`);
  try {
    return compileRegex(pattern, { anchored: false });
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`invalid ${what} ${e.message}`);
    throw e;
  }
}

export function filterStacks(stacks: readonly WeightedStack[], filter: StackFilter | undefined): WeightedStack[] {
  if (isEmptyFilter(filter)) return stacks.slice();
  const f = filter!;
  const hide = f.hide ? userRegex(f.hide, 'hide') : undefined;
  const hideBin = f.hideBinary ? userRegex(f.hideBinary, 'hide binary') : undefined;
  const focus = f.focus ? userRegex(f.focus, 'focus') : undefined;
  const focusBin = f.focusBinary ? userRegex(f.focusBinary, 'focus binary') : undefined;
  // Names repeat across stacks: test each distinct name/binary once.
  const memo = (re: CompiledRegex | undefined) => {
    const cache = new Map<string, boolean>();
    return (s: string): boolean => {
      if (!re) return false;
      let v = cache.get(s);
      if (v === undefined) {
        v = re.test(s);
        cache.set(s, v);
      }
      return v;
    };
  };
  const hidden = memo(hide);
  const hiddenBin = memo(hideBin);
  const focused = memo(focus);
  const focusedBin = memo(focusBin);

  const out: WeightedStack[] = [];
  for (const s of stacks) {
    let frames = s.frames;
    if (focus || focusBin) {
      let at = -1;
      for (let i = 0; i < frames.length; i++) {
        const fr = frames[i]!;
        if ((!focus || focused(fr.name)) && (!focusBin || focusedBin(fr.binary))) {
          at = i;
          break;
        }
      }
      if (at < 0) continue;
      frames = frames.slice(at);
    }
    if (hide || hideBin) frames = frames.filter((fr) => !hidden(fr.name) && !hiddenBin(fr.binary));
    out.push(frames === s.frames ? s : { frames, value: s.value });
  }
  return out;
}
