import { useEffect, useState } from 'react';
import { labelValues, type ProfileTypeJson } from '../api/querier.js';
import { checkLabelSelector, matcherValue, withMatcher } from '../model/label-selector.js';
import { useAsync } from './useAsync.js';

const SERVICE = 'service_name';

/** The service in the selector stays selectable even when the range has no data for it. */
function withCurrent(values: string[], current: string): string[] {
  return current && !values.includes(current) ? [...values, current] : values;
}

/**
 * CPU types first (what people open during an incident), then the rest by name; the current type stays
 * listed even when the range holds none of it, so a shared link never shows an empty picker.
 */
function typeOptions(types: ProfileTypeJson[], current: string): string[] {
  const ids = [...new Set(types.map((t) => t.ID))];
  if (current && !ids.includes(current)) ids.push(current);
  const rank = (id: string) => (id.startsWith('process_cpu:cpu:') ? 0 : id.split(':')[1] === 'cpu' ? 1 : 2);
  return ids.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * What to look at: profile type, service, any label (names and values autocomplete from the server) and the
 * selector itself, checked as it is typed so an error is shown next to it, not as an empty graph.
 */
export function QueryBar(props: {
  types: ProfileTypeJson[];
  /** Label names in the range, for autocomplete (loaded once by the page, shared with group-by). */
  labelNames: string[];
  type: string;
  query: string;
  start: number;
  end: number;
  serverError: string;
  onType: (t: string) => void;
  onQuery: (q: string) => void;
}) {
  const { start, end, query } = props;
  const services = useAsync(`${start}|${end}`, (s) => labelValues(SERVICE, [], start, end, s));
  const [draft, setDraft] = useState(query);
  useEffect(() => setDraft(query), [query]);
  const parsed = checkLabelSelector(draft);
  const [labelName, setLabelName] = useState('');
  const [labelValue, setLabelValue] = useState('');
  const values = useAsync(labelName ? `${labelName}|${start}|${end}` : null, (s) => labelValues(labelName, [], start, end, s));

  const apply = () => {
    if (parsed.ok) props.onQuery(draft.trim() || '{}');
  };

  return (
    <div className="querybar">
      <label>
        Profile type
        <select data-testid="profile-type" value={props.type} onChange={(e) => props.onType(e.target.value)}>
          {typeOptions(props.types, props.type).map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </label>
      <label>
        Service
        <select
          data-testid="service"
          value={matcherValue(query, SERVICE)}
          onChange={(e) => props.onQuery(withMatcher(query, SERVICE, e.target.value))}
        >
          <option value="">all services</option>
          {services.status === 'done' &&
            withCurrent(services.data, matcherValue(query, SERVICE)).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
        </select>
      </label>
      <div className="selector">
        <label>
          Selector
          <input
            data-testid="selector"
            className={parsed.ok && !props.serverError ? '' : 'invalid'}
            value={draft}
            spellCheck={false}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && apply()}
            onBlur={apply}
            aria-invalid={!parsed.ok}
          />
        </label>
        {!parsed.ok && (
          <div className="inline-error" data-testid="selector-error" role="alert">
            {parsed.error}
          </div>
        )}
        {parsed.ok && props.serverError && (
          <div className="inline-error" data-testid="selector-error" role="alert">
            {props.serverError}
          </div>
        )}
      </div>
      <div className="label-adder">
        <input
          data-testid="label-name"
          placeholder="label"
          list="kiln-label-names"
          value={labelName}
          onChange={(e) => setLabelName(e.target.value)}
        />
        <datalist id="kiln-label-names">
          {props.labelNames.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <input
          data-testid="label-value"
          placeholder="value"
          list="kiln-label-values"
          value={labelValue}
          onChange={(e) => setLabelValue(e.target.value)}
        />
        <datalist id="kiln-label-values">
          {values.status === 'done' && values.data.map((v) => <option key={v} value={v} />)}
        </datalist>
        <button
          data-testid="label-add"
          disabled={!labelName || !labelValue}
          onClick={() => {
            props.onQuery(withMatcher(query, labelName, labelValue));
            setLabelValue('');
          }}
        >
          Add
        </button>
      </div>
    </div>
  );
}
