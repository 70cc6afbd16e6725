import type { Labels } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import { DictionaryBuilder } from '../model/symbols.js';
import type { Line } from '../model/symbols.js';
import type { ResolvedStacks, StackValue } from '../store/store.js';
import type { Frame, WeightedStack } from './stacks.js';

/** What a merged profile says about itself beyond its stacks. */
export interface ProfileHeader {
  readonly type: ProfileType;
  readonly labels: Labels;
  readonly timeMs: number;
  readonly durationNs: number;
}

/**
 * The store's merged rows as one Profile over the symbols it resolved for them, as they are: what
 * pprof export takes when nothing filters the stacks. Same content as profileOfStacks over
 * weightedStacks of the same rows, without building frames first — for 100 000 stacks of ~30 frames
 * that detour tripled the export's time (measured: 0.3 s → 4 s beside a 1.5–2 s encode). Undefined when
 * a row's stack did not resolve: the frame road then shows it as an unresolved stack, value kept.
 */
export function profileOfResolved(rows: readonly StackValue[], resolved: ResolvedStacks, header: ProfileHeader): Profile | undefined {
  const out: Profile = { ...header, period: 0, dict: resolved.dict, stacks: [], values: [] };
  for (const r of rows) {
    if (r.value === 0) continue;
    const i = resolved.stacks.get(r.stackId);
    if (i === undefined) return undefined;
    out.stacks.push(i);
    out.values.push(r.value);
  }
  return out;
}

/**
 * Merged stacks back into one model Profile (pprof export encodes it), from the frames alone: each
 * run of frames inlined at one location becomes one location with several lines again, so a stack
 * read from a pprof exports as the same locations, mappings, functions and lines. Filters applied to
 * the stacks (focus, hide, call site) apply to the export too.
 */
export function profileOfStacks(stacks: readonly WeightedStack[], header: ProfileHeader): Profile {
  const b = new DictionaryBuilder();
  // A location run is known by its first and last frame objects: frames are shared per location, and
  // within one export filters cut the same location the same way, so the pair fixes what lies between.
  // The common case, one run per store location, is an array lookup (arrays kept packed and sized up
  // front: a sparse array falls back to a slow dictionary); other runs go through a map.
  let maxLocation = -1;
  for (const s of stacks) for (const f of s.frames) if (f.location > maxLocation) maxLocation = f.location;
  const runFirst = new Array<Frame | null>(maxLocation + 1).fill(null);
  const runLast = new Array<Frame | null>(maxLocation + 1).fill(null);
  const runLocation = new Int32Array(maxLocation + 1);
  const others = new Map<Frame, Map<Frame, number>>();
  const locationOf = (frames: readonly Frame[], from: number, to: number): number => {
    const first = frames[from]!;
    const last = frames[to - 1]!;
    const at = first.location;
    if (at >= 0 && runFirst[at] === first && runLast[at] === last) return runLocation[at]!;
    let byLast = others.get(first);
    let loc = byLast?.get(last);
    if (loc !== undefined) return loc;
    loc = buildLocation(b, frames, from, to);
    if (at >= 0 && runFirst[at] === null) {
      runFirst[at] = first;
      runLast[at] = last;
      runLocation[at] = loc;
    } else {
      if (!byLast) others.set(first, (byLast = new Map()));
      byLast.set(last, loc);
    }
    return loc;
  };

  const out: Profile = { ...header, period: 0, dict: b.dict, stacks: [], values: [] };
  for (const s of stacks) {
    if (s.value === 0) continue;
    const frames = s.frames;
    const locs: number[] = [];
    for (let i = 0; i < frames.length; ) {
      let j = i + 1;
      const at = frames[i]!.location;
      while (j < frames.length && at >= 0 && frames[j]!.inlined && frames[j]!.location === at) j++;
      locs.push(locationOf(frames, i, j));
      i = j;
    }
    // The model stores stacks leaf first (pprof order). One stack per sample, not de-duplicated: the
    // store's stacks are distinct already, and pprof readers merge equal stacks anyway.
    out.stacks.push(b.dict.stacks.push(locs.reverse()) - 1);
    out.values.push(s.value);
  }
  return out;
}

/** One location from the root-first run frames[from, to) (the caller first, the inlined callees after). */
function buildLocation(b: DictionaryBuilder, frames: readonly Frame[], from: number, to: number): number {
  const first = frames[from]!;
  const mapping = first.binary !== '' || first.buildId !== '' ? b.mapping(first.binary, first.buildId) : -1;
  if (!first.symbolized) return b.location(mapping, first.address, []);
  const lines: Line[] = [];
  // Lines are innermost first in the model, so the run is read backwards.
  for (let k = to - 1; k >= from; k--) {
    const f = frames[k]!;
    lines.push({ function: b.function(f.name, f.systemName, f.file), line: f.line });
  }
  return b.location(mapping, first.address, lines);
}
