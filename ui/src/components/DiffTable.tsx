import { useMemo } from 'react';
import type { DiffTable as DiffTableData, DiffTableEntry } from '../../../src/query/diff.js';
import { nameTest } from '../model/name-query.js';
import { formatPercent } from '../model/units.js';
import { FilterBox, MAX_ROWS, RowCapNote, SortHeader, parseSort } from './table-parts.js';
import { Status } from './Status.js';
import type { Async } from './useAsync.js';

/**
 * Every function of a diff, from /api/v1/diff's table (both whole merges, nothing trimmed), shown as
 * shares of each side so selections of different size compare: baseline share, comparison share, and
 * their change in percentage points. Sorted by the largest change first. When the significance test has
 * run (the diff view's "compare to…"), rows whose change is beyond sampling noise carry a mark.
 */
interface ShareRow {
  readonly name: string;
  readonly leftSelf: number;
  readonly rightSelf: number;
  /** Comparison share minus baseline share (self, total). */
  readonly change: number;
  readonly totalChange: number;
}

type Column = { key: string; label: string; value: (r: ShareRow) => number | string };

const COLUMNS: Column[] = [
  { key: 'name', label: 'Function', value: (r) => r.name },
  { key: 'leftSelf', label: 'Baseline self', value: (r) => r.leftSelf },
  { key: 'rightSelf', label: 'Comparison self', value: (r) => r.rightSelf },
  { key: 'change', label: 'Self change', value: (r) => Math.abs(r.change) },
  { key: 'totalChange', label: 'Total change', value: (r) => Math.abs(r.totalChange) },
];

function shareRow(e: DiffTableEntry, baseTotal: number, headTotal: number): ShareRow {
  const l = (v: number) => (baseTotal > 0 ? v / baseTotal : 0);
  const r = (v: number) => (headTotal > 0 ? v / headTotal : 0);
  return {
    name: e.name,
    leftSelf: l(e.baseSelf),
    rightSelf: r(e.headSelf),
    change: r(e.headSelf) - l(e.baseSelf),
    totalChange: r(e.headTotal) - l(e.baseTotal),
  };
}

export function DiffTable(props: {
  /** The table of the diff (with its graph: one request). */
  state: Async<DiffTableData>;
  sort: string;
  filter: string;
  onSort: (sort: string) => void;
  onFilter: (filter: string) => void;
  onPick?: (name: string) => void;
  /** Functions whose share changed significantly (/api/v1/compare); undefined when not tested. */
  significant?: ReadonlySet<string>;
}) {
  return (
    <div className="table-view" data-testid="diff-table">
      <FilterBox value={props.filter} onChange={props.onFilter} />
      <Status state={props.state} what="diff table">
        {(table) => <DiffRows {...props} table={table} />}
      </Status>
    </div>
  );
}

function DiffRows(props: {
  table: DiffTableData;
  sort: string;
  filter: string;
  onSort: (sort: string) => void;
  onPick?: (name: string) => void;
  significant?: ReadonlySet<string>;
}) {
  const { table } = props;
  const { key, reversed } = parseSort(props.sort);
  const col = COLUMNS.find((c) => c.key === key) ?? COLUMNS[3];
  const rows = useMemo(() => {
    const test = nameTest(props.filter);
    const out = table.entries.filter((e) => !test || test(e.name)).map((e) => shareRow(e, table.baseTotal, table.headTotal));
    out.sort((a, b) => {
      const va = col.value(a);
      const vb = col.value(b);
      // Names A→Z, numbers largest first (ties by name, so the order is stable); "-" flips either.
      const c = typeof va === 'string' || typeof vb === 'string' ? cmp(String(va), String(vb)) : vb - va || cmp(a.name, b.name);
      return reversed ? -c : c;
    });
    return out;
  }, [table, col, reversed, props.filter]);

  const signed = (v: number) => `${v > 0 ? '+' : ''}${(v * 100).toFixed(2)} pp`;
  const trend = (v: number) => (v > 0 ? 'worse' : v < 0 ? 'better' : '');
  if (rows.length === 0) return <div className="state empty">{props.filter ? `No function matches “${props.filter}”.` : 'No functions in this selection.'}</div>;
  return (
    <>
      <table className="top">
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <SortHeader key={c.key} id={c.key} label={c.label} active={c.key === col.key} reversed={reversed} onSort={props.onSort} />
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_ROWS).map((r) => (
            <tr
              key={r.name}
              onClick={() => props.onPick?.(r.name)}
              data-name={r.name}
              data-change={r.change}
              data-significant={props.significant ? String(props.significant.has(r.name)) : undefined}
            >
              <td className="fn">
                {props.significant?.has(r.name) && (
                  <span className="significant" title="changed beyond sampling noise">
                    ●{' '}
                  </span>
                )}
                {r.name}
              </td>
              <td className="num">{formatPercent(r.leftSelf, 1)}</td>
              <td className="num">{formatPercent(r.rightSelf, 1)}</td>
              <td className={`num ${trend(r.change)}`}>{signed(r.change)}</td>
              <td className={`num ${trend(r.totalChange)}`}>{signed(r.totalChange)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <RowCapNote shown={MAX_ROWS} of={rows.length} />
    </>
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
