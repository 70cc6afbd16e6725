import { linkLevels, type FlameTree } from './flame-tree.js';

/**
 * Decoders for querier.v1 FlameGraph / FlameGraphDiff (Connect JSON: int64 arrive as strings).
 * Each level lists nodes as fixed-size groups; the first value of a group is the gap after the previous
 * node of the same level (Pyroscope's delta encoding), so absolute x is rebuilt with a running sum.
 */
export interface FlameGraphJson {
  names?: string[];
  levels?: { values?: (string | number)[] }[];
  total?: string | number;
  maxSelf?: string | number;
}

export interface FlameGraphDiffJson extends FlameGraphJson {
  leftTicks?: string | number;
  rightTicks?: string | number;
}

const NODE = 4; // offset, total, self, name
const DIFF_NODE = 7; // left offset, left total, left self, right offset, right total, right self, name

type RawLevel = readonly (string | number)[];

/** The raw value arrays, checked to hold whole nodes; numbers are converted where they are read. */
function levelsOf(fg: FlameGraphJson, step: number): RawLevel[] {
  const levels = (fg.levels ?? []).map((l) => l.values ?? []);
  for (const [d, l] of levels.entries()) {
    if (l.length % step !== 0) throw new Error(`flame graph level ${d} has ${l.length} values, not a multiple of ${step}`);
  }
  return levels;
}

/**
 * `rootName` names the root instead of the wire's "total": a sandwich half is rooted at its function.
 * (The root's name index is 0, which any frame named "total" shares, so the root gets a name of its own.)
 */
export function decodeFlameGraph(fg: FlameGraphJson, rootName?: string): FlameTree {
  const levels = levelsOf(fg, NODE);
  const count = levels.reduce((n, l) => n + l.length / NODE, 0);
  const levelStart = new Int32Array(levels.length + 1);
  const x = new Float64Array(count);
  const total = new Float64Array(count);
  const self = new Float64Array(count);
  const nameIdx = new Int32Array(count);
  let i = 0;
  for (const [d, l] of levels.entries()) {
    levelStart[d] = i;
    let end = 0;
    for (let k = 0; k < l.length; k += NODE, i++) {
      x[i] = end + +l[k];
      total[i] = +l[k + 1];
      self[i] = +l[k + 2];
      nameIdx[i] = +l[k + 3];
      end = x[i] + total[i];
    }
  }
  levelStart[levels.length] = i;
  let names = fg.names ?? [];
  if (rootName !== undefined && count > 0) {
    names = [...names, rootName];
    nameIdx[0] = names.length - 1;
  }
  return { names, count, levelStart, x, total, self, nameIdx, ...linkLevels(levelStart, x, total) };
}

/**
 * A diff graph is laid out on the sum of both sides (a node is as wide as its baseline plus comparison
 * value), which keeps frames that exist on only one side visible.
 */
export function decodeDiffFlameGraph(fg: FlameGraphDiffJson): FlameTree {
  const levels = levelsOf(fg, DIFF_NODE);
  const count = levels.reduce((n, l) => n + l.length / DIFF_NODE, 0);
  const levelStart = new Int32Array(levels.length + 1);
  const x = new Float64Array(count);
  const total = new Float64Array(count);
  const self = new Float64Array(count);
  const nameIdx = new Int32Array(count);
  const leftTotal = new Float64Array(count);
  const leftSelf = new Float64Array(count);
  const rightTotal = new Float64Array(count);
  const rightSelf = new Float64Array(count);
  let i = 0;
  for (const [d, l] of levels.entries()) {
    levelStart[d] = i;
    let lEnd = 0;
    let rEnd = 0;
    for (let k = 0; k < l.length; k += DIFF_NODE, i++) {
      const lx = lEnd + +l[k];
      const rx = rEnd + +l[k + 3];
      leftTotal[i] = +l[k + 1];
      leftSelf[i] = +l[k + 2];
      rightTotal[i] = +l[k + 4];
      rightSelf[i] = +l[k + 5];
      nameIdx[i] = +l[k + 6];
      lEnd = lx + leftTotal[i];
      rEnd = rx + rightTotal[i];
      x[i] = lx + rx;
      total[i] = leftTotal[i] + rightTotal[i];
      self[i] = leftSelf[i] + rightSelf[i];
    }
  }
  levelStart[levels.length] = i;
  const leftTicks = Number(fg.leftTicks ?? (count ? leftTotal[0] : 0));
  const rightTicks = Number(fg.rightTicks ?? (count ? rightTotal[0] : 0));
  return {
    names: fg.names ?? [],
    count,
    levelStart,
    x,
    total,
    self,
    nameIdx,
    ...linkLevels(levelStart, x, total),
    diff: { leftTotal, leftSelf, rightTotal, rightSelf, leftTicks, rightTicks },
  };
}
