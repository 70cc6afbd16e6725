import { useEffect, useState } from 'react';
import { parseTime } from '../../../src/query/time.js';
import { PRESETS, describeRange } from '../model/time-range.js';

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** Presets (15m … 7d) and a custom from/until. Presets stay relative ("now-1h") in the URL. */
export function RangePicker(props: { from: string; until: string; onChange: (from: string, until: string) => void }) {
  const [custom, setCustom] = useState(false);
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  useEffect(() => {
    try {
      setA(toLocalInput(parseTime(props.from)));
      setB(toLocalInput(parseTime(props.until)));
    } catch {
      // An unparsable time in a hand-edited URL: leave the custom inputs empty.
    }
  }, [props.from, props.until, custom]);
  return (
    <div className="range">
      {PRESETS.map((p) => (
        <button
          key={p}
          data-testid={`range-${p}`}
          className={props.from === `now-${p}` && props.until === 'now' ? 'active' : ''}
          onClick={() => props.onChange(`now-${p}`, 'now')}
        >
          {p}
        </button>
      ))}
      <button data-testid="range-custom" className={custom ? 'active' : ''} onClick={() => setCustom(!custom)}>
        custom
      </button>
      {custom && (
        <span className="custom-range">
          <input data-testid="custom-from" type="datetime-local" value={a} onChange={(e) => setA(e.target.value)} />
          →
          <input data-testid="custom-until" type="datetime-local" value={b} onChange={(e) => setB(e.target.value)} />
          <button
            data-testid="custom-apply"
            onClick={() => {
              const s = Date.parse(a);
              const e = Date.parse(b);
              if (!Number.isNaN(s) && !Number.isNaN(e) && e > s) props.onChange(String(s), String(e));
            }}
          >
            apply
          </button>
        </span>
      )}
      <span className="range-label" data-testid="range-label">
        {describeRange(props.from, props.until)}
      </span>
    </div>
  );
}
