import type { WeightedStack } from './stacks.js';

/** A function of the call graph: flat = value where it is the leaf, cumulative = value of stacks through it. */
export interface CallgraphNode {
  readonly name: string;
  flat: number;
  cumulative: number;
}

/** A caller → callee edge with the value of the stacks that make that call. */
export interface CallgraphEdge {
  readonly caller: string;
  readonly callee: string;
  cumulative: number;
}

export interface Callgraph {
  readonly nodes: CallgraphNode[];
  readonly edges: CallgraphEdge[];
  readonly total: number;
}

/**
 * The call graph of merged stacks (pprof's graph view, Parca's CALLGRAPH, DOT output): one node per
 * function, one edge per distinct call. A stack counts once per node and once per edge even when it
 * recurses, so cumulative never exceeds the total. Nodes and edges come heaviest first.
 */
export function callgraph(stacks: readonly WeightedStack[]): Callgraph {
  const nodes = new Map<string, CallgraphNode>();
  const edges = new Map<string, CallgraphEdge>();
  let total = 0;
  for (const s of stacks) {
    if (s.frames.length === 0) continue;
    total += s.value;
    const seenNodes = new Set<string>();
    const seenEdges = new Set<string>();
    for (let i = 0; i < s.frames.length; i++) {
      const name = s.frames[i]!.name;
      let node = nodes.get(name);
      if (!node) nodes.set(name, (node = { name, flat: 0, cumulative: 0 }));
      if (!seenNodes.has(name)) {
        seenNodes.add(name);
        node.cumulative += s.value;
      }
      if (i === s.frames.length - 1) node.flat += s.value;
      if (i > 0) {
        const caller = s.frames[i - 1]!.name;
        const key = `${caller}\u0000${name}`;
        if (seenEdges.has(key)) continue;
        seenEdges.add(key);
        let edge = edges.get(key);
        if (!edge) edges.set(key, (edge = { caller, callee: name, cumulative: 0 }));
        edge.cumulative += s.value;
      }
    }
  }
  const byWeight = <T extends { cumulative: number }>(a: T, b: T) => b.cumulative - a.cumulative;
  return { nodes: [...nodes.values()].sort(byWeight), edges: [...edges.values()].sort(byWeight), total };
}
