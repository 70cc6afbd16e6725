/** Pieces the top table and the diff table share: the filter box, sortable headers, the row cap. */

/** Rows drawn at most; the rest are a filter away (a 50 000-row DOM table would stall the page). */
export const MAX_ROWS = 500;

/** A URL `sort` value: a column key, "-" in front for the reverse of its natural order. */
export function parseSort(sort: string): { key: string; reversed: boolean } {
  return { key: sort.replace(/^-/, ''), reversed: sort.startsWith('-') };
}

export function FilterBox(props: { value: string; onChange: (v: string) => void }) {
  return (
    <input
      className="table-filter"
      data-testid="table-filter"
      placeholder="Filter functions (substring or /regex/)"
      value={props.value}
      onChange={(e) => props.onChange(e.target.value)}
    />
  );
}

/** A column header; clicking the active column flips its order. */
export function SortHeader(props: { id: string; label: string; active: boolean; reversed: boolean; onSort: (sort: string) => void }) {
  const { id, active, reversed } = props;
  return (
    <th
      data-testid={`sort-${id}`}
      className={`sortable ${active ? 'active' : ''}`}
      aria-sort={active ? (reversed ? 'ascending' : 'descending') : 'none'}
      onClick={() => props.onSort(active && !reversed ? `-${id}` : id)}
    >
      {props.label}
      {active ? (reversed ? ' ▲' : ' ▼') : ''}
    </th>
  );
}

export function RowCapNote(props: { shown: number; of: number }) {
  if (props.of <= props.shown) return null;
  return <div className="note">Showing the first {props.shown} of {props.of} functions; filter to narrow.</div>;
}
