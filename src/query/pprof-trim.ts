import { namedFrame } from './stacks.js';
import type { Frame, WeightedStack } from './stacks.js';
import { OTHER_NAME } from './tree.js';

interface PathNode {
  total: number;
  depth: number;
  kept: boolean;
  readonly children: Map<string, PathNode>;
}

/**
 * Pyroscope's `max_nodes` for a merged pprof (SelectMergeProfile): the call tree keeps its `maxNodes`
 * heaviest nodes, and every stack is cut where it leaves them, the cut part standing as one `other`
 * frame so totals hold. A pprof has no tree, so the cut is made on the stacks; stacks that become
 * equal are summed. The kept set is closed under parents (a child never outweighs its parent, and
 * ties are broken shallowest first), so a kept frame's callers are always kept too.
 */
export function truncateStacks(stacks: readonly WeightedStack[], maxNodes: number): WeightedStack[] {
  if (maxNodes <= 0) return [...stacks];
  const root: PathNode = { total: 0, depth: -1, kept: true, children: new Map() };
  const all: PathNode[] = [];
  for (const s of stacks) {
    let node = root;
    for (const f of s.frames) {
      let child = node.children.get(f.name);
      if (!child) {
        child = { total: 0, depth: node.depth + 1, kept: false, children: new Map() };
        node.children.set(f.name, child);
        all.push(child);
      }
      child.total += s.value;
      node = child;
    }
  }
  if (all.length <= maxNodes) return [...stacks];
  all.sort((a, b) => b.total - a.total || a.depth - b.depth);
  for (let i = 0; i < maxNodes; i++) all[i]!.kept = true;

  // One shared frame object: the pprof encoder then makes one `other` location for every cut.
  const other: Frame = namedFrame(OTHER_NAME);
  const merged = new Map<string, { frames: Frame[]; value: number }>();
  const out: WeightedStack[] = [];
  for (const s of stacks) {
    let node = root;
    let cut = -1;
    for (let i = 0; i < s.frames.length; i++) {
      node = node.children.get(s.frames[i]!.name)!;
      if (!node.kept) {
        cut = i;
        break;
      }
    }
    if (cut < 0) {
      out.push(s);
      continue;
    }
    const frames = [...s.frames.slice(0, cut), other];
    // Key by the kept frames' identity (frame objects are shared per location) so equal cuts sum.
    const key = frames.slice(0, cut).map((f) => `${f.location}:${f.name}`).join('\u0000');
    const prev = merged.get(key);
    if (prev) prev.value += s.value;
    else merged.set(key, { frames, value: s.value });
  }
  for (const m of merged.values()) out.push(m);
  return out;
}
