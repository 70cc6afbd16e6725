import { Int64, Table, Uint16, Uint32, Uint64, tableToIPC } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { dictionaryColumn, intColumn, nullColumn, rowListColumn } from './arrow-columns.js';
import type { Callgraph } from '../query/callgraph.js';

/**
 * Parca's TABLE_ARROW report: an Arrow IPC stream with a row per function, as the Parca UI's table
 * and sandwich views read it (built on Parca's side by `pkg/query/table.go`). `callers` and
 * `callees` hold row numbers of the functions that call this one and that it calls. The column
 * types are Parca's, fixed widths included (Int64 values, Uint16/Uint32 dictionary indices).
 *
 * Kiln's rows come from its call graph, merged by function name: mapping, address, line and file
 * columns are present and null. A recursive function's cumulative counts each sample once (Parca
 * adds it once per frame).
 */

export const TABLE_ARROW_COLUMNS = [
  'mapping_file', 'mapping_build_id', 'location_address', 'location_line', 'function_startline', 'function_name',
  'function_system_name', 'function_file_name', 'cumulative', 'cumulative_diff', 'flat', 'flat_diff', 'callers', 'callees',
] as const;

/** Change of one function against the base of a diff. */
export interface FunctionChange {
  readonly flat: number;
  readonly cumulative: number;
}

/**
 * `changes` (a diff's, by function name) fills the diff columns; a function only the base has gets
 * a row with zero values, so its disappearance shows.
 */
export function encodeTableArrow(graph: Callgraph, changes?: ReadonlyMap<string, FunctionChange>): Uint8Array {
  const rows = graph.nodes.map((n) => ({ name: n.name, flat: n.flat, cumulative: n.cumulative }));
  const known = new Set(rows.map((r) => r.name));
  for (const name of changes?.keys() ?? []) if (!known.has(name)) rows.push({ name, flat: 0, cumulative: 0 });
  const rowOf = new Map(rows.map((r, i) => [r.name, i]));
  const callers = rows.map(() => new Set<number>());
  const callees = rows.map(() => new Set<number>());
  for (const e of graph.edges) {
    const caller = rowOf.get(e.caller)!;
    const callee = rowOf.get(e.callee)!;
    callers[callee]!.add(caller);
    callees[caller]!.add(callee);
  }
  const n = rows.length;
  const none = (index: Uint16 | Uint32) => dictionaryColumn(new Array<null>(n).fill(null), { binary: false, index });
  const change = (name: string) => changes?.get(name);
  const columns: Record<(typeof TABLE_ARROW_COLUMNS)[number], Vector> = {
    mapping_file: none(new Uint16()),
    mapping_build_id: none(new Uint16()),
    location_address: intColumn(new Uint64(), new Array<number>(n).fill(0)),
    location_line: nullColumn(new Int64(), n),
    function_startline: nullColumn(new Int64(), n),
    function_name: dictionaryColumn(rows.map((r) => r.name), { binary: false, index: new Uint32() }),
    function_system_name: none(new Uint16()),
    function_file_name: none(new Uint32()),
    cumulative: intColumn(new Int64(), rows.map((r) => r.cumulative)),
    // Outside a diff there is no change to report: null, as Parca leaves it.
    cumulative_diff: changes ? intColumn(new Int64(), rows.map((r) => change(r.name)?.cumulative ?? 0)) : nullColumn(new Int64(), n),
    flat: intColumn(new Int64(), rows.map((r) => r.flat)),
    flat_diff: intColumn(new Int64(), rows.map((r) => change(r.name)?.flat ?? 0)),
    callers: rowListColumn(new Int64(), callers.map((c) => [...c])),
    callees: rowListColumn(new Int64(), callees.map((c) => [...c])),
  };
  return tableToIPC(new Table(columns), 'stream');
}
