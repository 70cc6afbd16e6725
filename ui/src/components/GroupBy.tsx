import { labelNames } from '../api/querier.js';
import { useAsync } from './useAsync.js';

/** The label the chart is split by; names come from the server for the current range. */
export function GroupBy(props: { value: string; start: number; end: number; onChange: (v: string) => void }) {
  const names = useAsync(`${props.start}|${props.end}`, (s) => labelNames([], props.start, props.end, s));
  return (
    <select data-testid="group-by" value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">(none)</option>
      {names.status === 'done' &&
        names.data
          .filter((n) => !n.startsWith('__'))
          .map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
    </select>
  );
}
