import { OTHER_NAME } from '../../../src/query/tree.js';
import { nodeName, type FlameTree } from './flame-tree.js';
import type { NameTest } from './name-query.js';

/** Search highlighting on the drawn graph: which frames match, and the share of the graph they cover. */

/**
 * Nodes whose name passes `test`, and the share of the root they cover (nested matches counted once).
 * A trimmed graph's `other` leaves stand for many functions, none of them named "other": never a match.
 */
export function searchMatches(t: FlameTree, test: NameTest): { matched: Uint8Array; value: number } {
  const matched = new Uint8Array(t.count);
  if (t.count === 0) return { matched, value: 0 };
  const nameHit = t.names.map((n) => test(n));
  let value = 0;
  // Levels are in depth order, so a parent's "covered" flag is set before its children are visited.
  const covered = new Uint8Array(t.count);
  for (let i = 1; i < t.count; i++) {
    const p = t.parent[i];
    const parentCovered = p >= 0 && (covered[p] === 1 || matched[p] === 1);
    const isLeaf = t.childStart[i] === t.childEnd[i];
    if (nameHit[t.nameIdx[i]] && !(isLeaf && nodeName(t, i) === OTHER_NAME)) {
      matched[i] = 1;
      if (!parentCovered) value += t.total[i];
    }
    covered[i] = parentCovered || matched[i] === 1 ? 1 : 0;
  }
  return { matched, value };
}
