import { useMemo, useRef, type ReactNode } from 'react';
import type { CostedTopTable as TopTableData } from '../../../src/insight/cost-top.js';
import { isCosted } from '../../../src/insight/cost-top.js';
import { formatMoney, perMonth, perWeek } from '../../../src/insight/cost.js';
import type { TopEntry, TopSort } from '../../../src/query/top.js';
import { nameTest } from '../model/name-query.js';
import { formatPercent, formatValue } from '../model/units.js';
import { FilterBox, MAX_ROWS, RowCapNote, SortHeader, parseSort } from './table-parts.js';
import { Status } from './Status.js';
import type { Async } from './useAsync.js';

const COLUMNS: { key: TopSort; label: string }[] = [
  { key: 'name', label: 'Function' },
  { key: 'self', label: 'Self' },
  { key: 'total', label: 'Total' },
];

/** The server's sort key for a URL `sort` (unknown keys, such as the diff table's, sort by self). */
export function topSortOf(sort: string): { key: TopSort; reversed: boolean } {
  const { key, reversed } = parseSort(sort);
  const known = COLUMNS.find((c) => c.key === key);
  return known ? { key: known.key, reversed } : { key: 'self', reversed: false };
}

/**
 * Self and total per function, as the server's /api/v1/top computes them over every merged stack (the
 * same rows `kiln query top` prints). The server orders the rows (self and total heaviest first, names
 * A→Z); the reversed order is the same list backwards. Every row is fetched, so the filter (substring or
 * /regex/) and the reversed order are applied here without asking again.
 */
export function TopTable(props: {
  /** The server's answer; the filter box stays in place while it loads. */
  state: Async<TopTableData>;
  /** The selection and filters the answer is for: while a new order of the same rows loads, the old one stays. */
  scope: string;
  idle?: ReactNode;
  empty: ReactNode;
  sampleUnit: string;
  rangeSeconds: number;
  sort: string;
  filter: string;
  onSort: (sort: string) => void;
  onFilter: (filter: string) => void;
  onPick?: (name: string) => void;
}) {
  // A click on a column asks the server for its order; the rows shown until it answers are the same
  // functions in the previous order (marked busy), not a "Loading" flash.
  const last = useRef<{ scope: string; table: TopTableData } | null>(null);
  if (props.state.status === 'done') last.current = { scope: props.scope, table: props.state.data };
  const resorting = props.state.status === 'loading' && last.current?.scope === props.scope;
  const state: Async<TopTableData> = resorting && last.current ? { status: 'done', data: last.current.table } : props.state;
  return (
    <div className="table-view" data-testid="top-table" aria-busy={resorting}>
      <FilterBox value={props.filter} onChange={props.onFilter} />
      <Status state={state} what="top table" idle={props.idle} isEmpty={(t) => t.total === 0} empty={props.empty}>
        {(table) => <TopRows {...props} table={table} />}
      </Status>
    </div>
  );
}

function TopRows(props: {
  table: TopTableData;
  sampleUnit: string;
  rangeSeconds: number;
  sort: string;
  filter: string;
  onSort: (sort: string) => void;
  onPick?: (name: string) => void;
}) {
  const { table, sampleUnit, rangeSeconds } = props;
  const { key, reversed } = topSortOf(props.sort);
  const rows = useMemo((): readonly TopEntry[] => {
    const test = nameTest(props.filter);
    const out = test ? table.entries.filter((r) => test(r.name)) : table.entries;
    return reversed ? [...out].reverse() : out;
  }, [table, props.filter, reversed]);

  const fmt = (v: number) => formatValue(v, sampleUnit, rangeSeconds);
  // Prices from the server's config turn each row into money per week, at this range's rate.
  const cost = table.cost;
  if (rows.length === 0) return <div className="state empty">No function matches “{props.filter}”.</div>;
  return (
    <>
      <table className="top" data-total={table.total}>
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <SortHeader key={c.key} id={c.key} label={c.label} active={c.key === key} reversed={reversed} onSort={props.onSort} />
            ))}
            {cost && <th title="At the server's prices (cost: in its config), at this range's rate">Self cost / week</th>}
            {cost && <th>Total cost / week</th>}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_ROWS).map((r) => (
            <tr key={r.name} onClick={() => props.onPick?.(r.name)} data-name={r.name} data-self={r.self} data-total={r.total}>
              <td className="fn">{r.name}</td>
              <td className="num">
                {fmt(r.self)} <span className="pct">{formatPercent(r.self, table.total)}</span>
              </td>
              <td className="num">
                {fmt(r.total)} <span className="pct">{formatPercent(r.total, table.total)}</span>
              </td>
              {cost && isCosted(r) && (
                <td className="num" data-testid="self-cost" title={`${formatMoney(perMonth(r.selfCost, cost.rangeMs), cost.currency)} per month`}>
                  {formatMoney(perWeek(r.selfCost, cost.rangeMs), cost.currency)}
                </td>
              )}
              {cost && isCosted(r) && (
                <td className="num" title={`${formatMoney(perMonth(r.totalCost, cost.rangeMs), cost.currency)} per month`}>
                  {formatMoney(perWeek(r.totalCost, cost.rangeMs), cost.currency)}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <RowCapNote shown={MAX_ROWS} of={rows.length} />
    </>
  );
}
