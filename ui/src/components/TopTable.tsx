import { useMemo } from 'react';
import { functionTable, matcherFor, type FunctionRow } from '../model/aggregate.js';
import { rootTotal, type FlameTree } from '../model/flame-tree.js';
import { formatPercent, formatValue } from '../model/units.js';

const MAX_ROWS = 500;

type Column = { key: string; label: string; value: (r: FunctionRow) => number | string };

function shareChange(left: number, leftTicks: number, right: number, rightTicks: number): number {
  const l = leftTicks > 0 ? left / leftTicks : 0;
  const r = rightTicks > 0 ? right / rightTicks : 0;
  return r - l;
}

/**
 * Self and total per function, sortable and filterable. For a diff graph the columns are the baseline and
 * comparison shares and their change, sorted by the largest change first.
 */
export function TopTable(props: {
  tree: FlameTree;
  sampleUnit: string;
  rangeSeconds: number;
  sort: string;
  filter: string;
  onSort: (sort: string) => void;
  onFilter: (filter: string) => void;
  onPick?: (name: string) => void;
  testId?: string;
}) {
  const { tree, sampleUnit, rangeSeconds } = props;
  const rows = useMemo(() => functionTable(tree), [tree]);
  const d = tree.diff;
  const total = rootTotal(tree);
  const columns: Column[] = d
    ? [
        { key: 'name', label: 'Function', value: (r) => r.name },
        { key: 'leftSelf', label: 'Baseline self', value: (r) => (r.leftSelf ?? 0) / (d.leftTicks || 1) },
        { key: 'rightSelf', label: 'Comparison self', value: (r) => (r.rightSelf ?? 0) / (d.rightTicks || 1) },
        { key: 'change', label: 'Self change', value: (r) => Math.abs(shareChange(r.leftSelf ?? 0, d.leftTicks, r.rightSelf ?? 0, d.rightTicks)) },
        { key: 'totalChange', label: 'Total change', value: (r) => Math.abs(shareChange(r.leftTotal ?? 0, d.leftTicks, r.rightTotal ?? 0, d.rightTicks)) },
      ]
    : [
        { key: 'name', label: 'Function', value: (r) => r.name },
        { key: 'self', label: 'Self', value: (r) => r.self },
        { key: 'total', label: 'Total', value: (r) => r.total },
      ];
  const ascending = props.sort.startsWith('-');
  const sortKey = props.sort.replace(/^-/, '');
  const col = columns.find((c) => c.key === sortKey) ?? columns[d ? 3 : 1];
  const sorted = useMemo(() => {
    const test = props.filter ? matcherFor(props.filter) : null;
    const out = test ? rows.filter((r) => test(r.name)) : rows.slice();
    out.sort((a, b) => {
      const va = col.value(a);
      const vb = col.value(b);
      const c = typeof va === 'string' ? String(va).localeCompare(String(vb)) : (vb as number) - (va as number);
      // Names read A→Z by default, numbers largest first; a "-" prefix flips either.
      return ascending ? -c : c;
    });
    return out;
  }, [rows, col, ascending, props.filter]);

  const header = (c: Column) => {
    const active = c.key === col.key;
    return (
      <th
        key={c.key}
        data-testid={`sort-${c.key}`}
        className={`sortable ${active ? 'active' : ''}`}
        aria-sort={active ? (ascending ? 'ascending' : 'descending') : 'none'}
        onClick={() => props.onSort(active && !ascending ? `-${c.key}` : c.key)}
      >
        {c.label}
        {active ? (ascending ? ' ▲' : ' ▼') : ''}
      </th>
    );
  };

  const fmt = (v: number) => formatValue(v, sampleUnit, rangeSeconds);
  const pct = (v: number, of: number) => formatPercent(v, of);
  const signed = (v: number) => `${v > 0 ? '+' : ''}${(v * 100).toFixed(2)} pp`;

  return (
    <div className="table-view" data-testid={props.testId ?? 'top-table'}>
      <input
        className="table-filter"
        data-testid="table-filter"
        placeholder="Filter functions (substring or /regex/)"
        value={props.filter}
        onChange={(e) => props.onFilter(e.target.value)}
      />
      {sorted.length === 0 ? (
        <div className="state empty">{rows.length ? `No function matches “${props.filter}”.` : 'No functions in this selection.'}</div>
      ) : (
        <table className="top">
          <thead>
            <tr>{columns.map(header)}</tr>
          </thead>
          <tbody>
            {sorted.slice(0, MAX_ROWS).map((r) => {
              if (d) {
                const sc = shareChange(r.leftSelf ?? 0, d.leftTicks, r.rightSelf ?? 0, d.rightTicks);
                const tc = shareChange(r.leftTotal ?? 0, d.leftTicks, r.rightTotal ?? 0, d.rightTicks);
                return (
                  <tr key={r.name} onClick={() => props.onPick?.(r.name)} data-name={r.name} data-change={sc}>
                    <td className="fn">{r.name}</td>
                    <td className="num">{pct(r.leftSelf ?? 0, d.leftTicks)}</td>
                    <td className="num">{pct(r.rightSelf ?? 0, d.rightTicks)}</td>
                    <td className={`num ${sc > 0 ? 'worse' : sc < 0 ? 'better' : ''}`}>{signed(sc)}</td>
                    <td className={`num ${tc > 0 ? 'worse' : tc < 0 ? 'better' : ''}`}>{signed(tc)}</td>
                  </tr>
                );
              }
              return (
                <tr key={r.name} onClick={() => props.onPick?.(r.name)} data-name={r.name} data-self={r.self} data-total={r.total}>
                  <td className="fn">{r.name}</td>
                  <td className="num">
                    {fmt(r.self)} <span className="pct">{pct(r.self, total)}</span>
                  </td>
                  <td className="num">
                    {fmt(r.total)} <span className="pct">{pct(r.total, total)}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {sorted.length > MAX_ROWS && <div className="note">Showing the first {MAX_ROWS} of {sorted.length} functions; filter to narrow.</div>}
    </div>
  );
}
