import { Int32, Int64, Table, Uint32, Uint64, Uint8, tableToIPC } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { boolColumn, dictionaryColumn, intColumn, nullColumn, rowListColumn, signedFor, unsignedFor } from './arrow-columns.js';
import type { DiffNode } from '../query/diff.js';
import type { FlameNode } from '../query/tree.js';
import { OTHER_NAME } from '../query/tree.js';

/**
 * Parca's FLAMEGRAPH_ARROW report: one Arrow IPC stream holding one record batch, a row per flame
 * graph node, as the Parca UI reads it (`FlameGraphArrow` in parca-dev/parca's UI, built by
 * `pkg/query/flamegraph_arrow.go` on Parca's side).
 *
 * Rows come breadth first: row 0 is the root (no function, parent -1, depth 0), every other row
 * names its `parent` row and lists its `children` rows; `value_offset` is where the node starts on
 * the x axis, in sample units (its parent's offset plus the cumulative of its earlier siblings), so
 * the UI can place a row without walking the tree. `cumulative`, `flat`, `depth`, `value_offset`
 * use the narrowest unsigned integer type that holds their largest value and `diff` the narrowest
 * signed one, as Parca sends them; the UI reads whatever width it gets.
 *
 * A Kiln tree is merged by function name, so a row has a function name and no mapping, address,
 * line or file: those columns are present (the UI looks them up by name) and null. Kiln's `other`
 * nodes (children folded by max_nodes) are not functions, so they are not rows: their value is
 * reported as `trimmed`, as Parca reports what its own trimming dropped.
 */

/** How the encoder reads any flame or diff tree without copying it. */
export interface FlameTreeView<N> {
  name(n: N): string;
  /** The node and everything under it. */
  cumulative(n: N): number;
  /** The node's own samples. */
  flat(n: N): number;
  /** Change against the base of a diff (0 outside diffs). */
  diff(n: N): number;
  children(n: N): readonly N[];
  /** A node that stands for folded-away children rather than a function. */
  folded(n: N): boolean;
}

export interface FlamegraphArrowOptions {
  /**
   * Parca's node_trim_threshold as a fraction (the request's percentage / 100): a child is kept only
   * when its cumulative exceeds this share of its parent's (0 keeps every node with a value).
   */
  readonly trimThreshold?: number;
}

export interface FlamegraphArrow {
  /** Arrow IPC stream bytes. */
  readonly record: Uint8Array;
  /** Rows on the deepest path, the root included. */
  readonly height: number;
  /** Value of the nodes left out (trimmed by threshold or folded into `other`). */
  readonly trimmed: number;
}

/** Symbols are Dictionary<Int32, Binary> columns: Grafana's Parca data source asserts exactly that type. */
const SYMBOL = { binary: true, index: new Int32() };

export const FLAMEGRAPH_ARROW_COLUMNS = [
  'labels_only', 'location_address', 'mapping_file', 'mapping_build_id', 'location_line', 'inlined', 'function_startline',
  'function_name', 'function_system_name', 'function_file_name', 'children', 'parent', 'cumulative', 'flat', 'diff',
  'timestamp', 'depth', 'value_offset',
] as const;

interface Rows {
  readonly name: (string | null)[];
  readonly parent: number[];
  readonly depth: number[];
  readonly cumulative: number[];
  readonly flat: number[];
  readonly diff: number[];
  readonly valueOffset: number[];
  readonly children: number[][];
}

export function encodeFlamegraphArrow<N>(root: N, view: FlameTreeView<N>, opts: FlamegraphArrowOptions = {}): FlamegraphArrow {
  const threshold = opts.trimThreshold ?? 0;
  const rows: Rows = { name: [null], parent: [-1], depth: [0], cumulative: [0], flat: [0], diff: [view.diff(root)], valueOffset: [0], children: [[]] };
  let trimmed = 0;
  let rootCumulative = 0;
  let deepest = 0;
  // Breadth first, so a row's children are always later rows and each depth is contiguous.
  const queue: { node: N; row: number }[] = [{ node: root, row: 0 }];
  for (let head = 0; head < queue.length; head++) {
    const { node, row } = queue[head]!;
    // Parca's rule: a child survives when it is worth more than the threshold share of its parent
    // (truncated to whole units), so zero-valued nodes (base-only frames of a diff) never do.
    const floor = Math.trunc(view.cumulative(node) * threshold);
    let offset = rows.valueOffset[row]!;
    for (const child of view.children(node)) {
      const value = view.cumulative(child);
      if (view.folded(child) || !(value > floor)) {
        trimmed += value;
        continue;
      }
      const childRow = rows.name.length;
      rows.name.push(view.name(child));
      rows.parent.push(row);
      const depth = rows.depth[row]! + 1;
      deepest = Math.max(deepest, depth);
      rows.depth.push(depth);
      rows.cumulative.push(value);
      rows.flat.push(view.flat(child));
      rows.diff.push(view.diff(child));
      rows.valueOffset.push(offset);
      rows.children.push([]);
      rows.children[row]!.push(childRow);
      if (row === 0) rootCumulative += value;
      offset += value;
      queue.push({ node: child, row: childRow });
    }
  }
  // The root is as wide as what is drawn under it, as in Parca: trimmed value leaves no gap at the top.
  rows.cumulative[0] = rootCumulative;
  return { record: tableToIPC(toTable(rows), 'stream'), height: deepest + 1, trimmed };
}

const flameView: FlameTreeView<FlameNode> = {
  name: (n) => n.name,
  cumulative: (n) => n.total,
  flat: (n) => n.self,
  diff: () => 0,
  children: (n) => n.children,
  folded: (n) => n.name === OTHER_NAME,
};

/** A diff as Parca draws it: widths are the head's (the compared selection), `diff` is head minus base. */
const diffView: FlameTreeView<DiffNode> = {
  name: (n) => n.name,
  cumulative: (n) => n.headTotal,
  flat: (n) => n.headSelf,
  diff: (n) => n.headTotal - n.baseTotal,
  children: (n) => n.children,
  folded: (n) => n.name === OTHER_NAME,
};

export const flameTreeArrow = (root: FlameNode, opts?: FlamegraphArrowOptions): FlamegraphArrow => encodeFlamegraphArrow(root, flameView, opts);
export const diffTreeArrow = (root: DiffNode, opts?: FlamegraphArrowOptions): FlamegraphArrow => encodeFlamegraphArrow(root, diffView, opts);

function toTable(rows: Rows): Table {
  const n = rows.name.length;
  const root = (row: number) => row === 0;
  const allNull = () => dictionaryColumn(new Array<null>(n).fill(null), SYMBOL);
  const columns: Record<(typeof FLAMEGRAPH_ARROW_COLUMNS)[number], Vector> = {
    labels_only: boolColumn(new Array<boolean>(n).fill(false), root),
    location_address: intColumn(new Uint64(), new Array<number>(n).fill(0), root),
    mapping_file: allNull(),
    mapping_build_id: allNull(),
    location_line: nullColumn(new Uint8(), n),
    inlined: boolColumn(new Array<boolean>(n).fill(false)),
    function_startline: nullColumn(new Uint8(), n),
    function_name: dictionaryColumn(rows.name, SYMBOL),
    function_system_name: allNull(),
    function_file_name: allNull(),
    // A leaf's children are null, not an empty list, as Parca writes them.
    children: rowListColumn(new Uint32(), rows.children),
    parent: intColumn(new Int32(), rows.parent),
    cumulative: intColumn(unsignedFor(rows.cumulative), rows.cumulative),
    flat: intColumn(unsignedFor(rows.flat), rows.flat),
    diff: intColumn(signedFor(rows.diff), rows.diff),
    timestamp: intColumn(new Int64(), new Array<number>(n).fill(0)),
    depth: intColumn(unsignedFor(rows.depth), rows.depth),
    value_offset: intColumn(unsignedFor(rows.cumulative), rows.valueOffset),
  };
  return new Table(columns);
}
