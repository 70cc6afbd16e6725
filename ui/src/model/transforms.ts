import { nodeName, type FlameTree } from './flame-tree.js';
import { packageOf } from './frame-kind.js';
import { TreeBuilder } from './tree-builder.js';

/**
 * Reshapings a user asks for from the right-click menu, computed in the browser from the merged graph.
 * Every one is a depth-first copy of the tree into a TreeBuilder, so each costs O(nodes).
 */

/** visit's answer: skip this node's subtree. */
const SKIP = -1;
/** visit's answer: nothing copied yet (above the first focused frame); walk on into the subtree. */
const NOT_YET = -2;

/**
 * Walks the tree depth-first, calling visit(node, newParent) and descending with what it returns as the
 * new parent; SKIP drops the subtree, NOT_YET walks on with newParent -1 (as `startTarget` -1 does).
 */
function copyWalk(t: FlameTree, visit: (node: number, target: number) => number, startTarget: number): void {
  if (t.count === 0) return;
  const stack: [number, number][] = [];
  for (let c = t.childEnd[0] - 1; c >= t.childStart[0]; c--) stack.push([c, startTarget]);
  while (stack.length) {
    const [n, target] = stack.pop()!;
    const next = visit(n, target);
    if (next === SKIP) continue;
    const passOn = next === NOT_YET ? -1 : next;
    for (let c = t.childEnd[n] - 1; c >= t.childStart[n]; c--) stack.push([c, passOn]);
  }
}

/**
 * What a focus/hide entry of the URL selects: `pkg:<package>` every frame of a package or binary (as
 * packageOf reads it from the name), anything else one function by exact name.
 */
export function frameFilter(entry: string): (name: string) => boolean {
  if (entry.startsWith('pkg:')) {
    const pkg = entry.slice(4);
    return (n) => packageOf(n) === pkg;
  }
  return (n) => n === entry;
}

/** Removes every frame named `name`; its callees move up to its caller, its self time to the caller. */
export function hideFunction(t: FlameTree, name: string): FlameTree {
  return hideFrames(t, (n) => n === name);
}

/** Removes every frame that `hide` selects (see hideFunction). */
export function hideFrames(t: FlameTree, hide: (name: string) => boolean): FlameTree {
  const b = new TreeBuilder(t.count ? nodeName(t, 0) : 'total');
  if (t.count) b.addSelf(TreeBuilder.ROOT, t.self[0]);
  copyWalk(
    t,
    (n, target) => {
      if (hide(nodeName(t, n))) {
        b.addSelf(target, t.self[n]);
        return target;
      }
      const c = b.child(target, nodeName(t, n));
      b.addSelf(c, t.self[n]);
      return c;
    },
    TreeBuilder.ROOT,
  );
  return b.build();
}

/** Every call of `name` (outermost occurrence on each stack) merged under the root: "what does it spend time on". */
export function focusFunction(t: FlameTree, name: string): FlameTree {
  return focusFrames(t, (n) => n === name);
}

/** focusFunction for every frame `focus` selects: stacks re-rooted at their first selected frame. */
export function focusFrames(t: FlameTree, focus: (name: string) => boolean): FlameTree {
  const b = new TreeBuilder(t.count ? nodeName(t, 0) : 'total');
  // target -1 = still above the first occurrence; copying starts once a focused frame is met.
  copyWalk(
    t,
    (n, target) => {
      const isMatch = focus(nodeName(t, n));
      if (target < 0 && !isMatch) return NOT_YET;
      const c = b.child(target < 0 ? TreeBuilder.ROOT : target, nodeName(t, n));
      b.addSelf(c, t.self[n]);
      return c;
    },
    -1,
  );
  return b.build();
}

/**
 * Sandwich view of `name`: callers as an inverted tree (the function at the root, its callers below it,
 * drawn bottom-up) and callees as the focused tree.
 */
export function sandwich(t: FlameTree, name: string): { callers: FlameTree; callees: FlameTree } {
  const b = new TreeBuilder(name);
  for (let n = 1; n < t.count; n++) {
    if (nodeName(t, n) !== name || hasAncestorNamed(t, n, name)) continue;
    let target = TreeBuilder.ROOT;
    for (let p = t.parent[n]; p > 0; p = t.parent[p]) target = b.child(target, nodeName(t, p));
    b.addSelf(target, t.total[n]);
  }
  return { callers: b.build(), callees: calleesOf(t, name) };
}

/** Every outermost call of `name` merged into one root named after it: what the function spends time on. */
function calleesOf(t: FlameTree, name: string): FlameTree {
  const b = new TreeBuilder(name);
  copyWalk(
    t,
    (n, target) => {
      if (target < 0) {
        if (nodeName(t, n) !== name) return NOT_YET;
        b.addSelf(TreeBuilder.ROOT, t.self[n]);
        return TreeBuilder.ROOT;
      }
      const c = b.child(target, nodeName(t, n));
      b.addSelf(c, t.self[n]);
      return c;
    },
    -1,
  );
  return b.build();
}

function hasAncestorNamed(t: FlameTree, n: number, name: string): boolean {
  for (let p = t.parent[n]; p > 0; p = t.parent[p]) if (nodeName(t, p) === name) return true;
  return false;
}

/** Collapsed stacks ("a;b;c value"), one line per stack with self value — Brendan Gregg's folded format. */
export function toFolded(t: FlameTree): string {
  const lines: string[] = [];
  const path: string[] = [];
  const walk = (n: number): void => {
    if (n > 0) path.push(nodeName(t, n));
    if (n > 0 && t.self[n] > 0) lines.push(`${path.join(';')} ${t.self[n]}`);
    for (let c = t.childStart[n]; c < t.childEnd[n]; c++) walk(c);
    if (n > 0) path.pop();
  };
  if (t.count) walk(0);
  return lines.join('\n') + (lines.length ? '\n' : '');
}
