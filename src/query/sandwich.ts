import type { Frame, WeightedStack } from './stacks.js';
import type { FlameNode } from './tree.js';
import { buildTree } from './tree.js';

/**
 * The sandwich view of one function: who calls it (callers, drawn above it) and what it calls
 * (callees, drawn below). Both trees are rooted at the function itself, so both roots carry the
 * function's total; the callers tree is inverted (a child is the caller of its parent).
 *
 * Recursion: each stack counts once, cut at the function's outermost (root-most) occurrence, so
 * the totals match the top table's total for the function, and recursive calls show in callees.
 */
export interface Sandwich {
  readonly function: string;
  readonly callers: FlameNode;
  readonly callees: FlameNode;
}

export function sandwich(stacks: readonly WeightedStack[], fn: string, maxNodes = 0): Sandwich {
  const callers: WeightedStack[] = [];
  const callees: WeightedStack[] = [];
  for (const s of stacks) {
    const at = s.frames.findIndex((f) => f.name === fn);
    if (at < 0) continue;
    // frames[at] becomes the tree's root, so it is left out of the frame lists.
    const up: Frame[] = [];
    for (let i = at - 1; i >= 0; i--) up.push(s.frames[i]!);
    callers.push({ frames: up, value: s.value });
    callees.push({ frames: s.frames.slice(at + 1), value: s.value });
  }
  const named = (t: FlameNode): FlameNode => ({ ...t, name: fn });
  return {
    function: fn,
    callers: named(buildTree(callers, maxNodes)),
    callees: named(buildTree(callees, maxNodes)),
  };
}
