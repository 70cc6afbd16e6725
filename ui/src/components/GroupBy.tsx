/** The label the chart is split by; `names` are the label names the server lists for the current range. */
export function GroupBy(props: { value: string; names: string[]; onChange: (v: string) => void }) {
  return (
    <select data-testid="group-by" value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">(none)</option>
      {props.names
        .filter((n) => !n.startsWith('__'))
        .map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
    </select>
  );
}
