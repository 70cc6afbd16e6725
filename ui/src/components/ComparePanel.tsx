import type { CompareReport, FunctionChange, ShareChange } from '../../../src/insight/compare.js';
import { Status } from './Status.js';
import type { Async } from './useAsync.js';

/** Baselines the "compare to…" menu offers, relative to the comparison's range. */
export const COMPARE_PRESETS = [
  { id: 'previous', label: 'the previous period' },
  { id: '1h', label: 'an hour earlier' },
  { id: '1d', label: 'a day earlier' },
  { id: '7d', label: 'a week earlier' },
] as const;
export type ComparePreset = (typeof COMPARE_PRESETS)[number]['id'];

const SHIFT_MS: Record<Exclude<ComparePreset, 'previous'>, number> = { '1h': 3_600_000, '1d': 86_400_000, '7d': 7 * 86_400_000 };

/** The baseline range of a preset for a comparison over [start, end): the same length, earlier. */
export function baselineRange(preset: ComparePreset, start: number, end: number): { start: number; end: number } {
  const shift = preset === 'previous' ? end - start : SHIFT_MS[preset];
  return { start: start - shift, end: end - shift };
}

/** The "compare to…" menu: picks a baseline and turns the significance panel on. */
export function CompareTo(props: { onPick: (preset: ComparePreset) => void }) {
  return (
    <select data-testid="compare-to" value="" onChange={(e) => e.target.value && props.onPick(e.target.value as ComparePreset)}>
      <option value="">Compare to…</option>
      {COMPARE_PRESETS.map((p) => (
        <option key={p.id} value={p.id}>
          {p.label}
        </option>
      ))}
    </select>
  );
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pp = (s: ShareChange) => `${s.delta >= 0 ? '+' : ''}${(s.delta * 100).toFixed(2)} pp`;
const rel = (s: ShareChange) => (s.relative === null ? 'new' : `${s.relative >= 0 ? '+' : ''}${(s.relative * 100).toFixed(1)}%`);
const pValue = (p: number) => (p < 1e-99 ? '<1e-99' : p >= 0.001 ? p.toFixed(3) : p.toExponential(1));
const trend = (s: ShareChange) => (s.delta > 0 ? 'worse' : s.delta < 0 ? 'better' : '');

/** Names of the functions whose self or total share changed significantly. */
export function significantNames(r: CompareReport): Set<string> {
  return new Set(r.functions.filter((f) => f.total.significant || f.self.significant).map((f) => f.name));
}

/**
 * The functions whose share changed beyond sampling noise, as /api/v1/compare tests them (two-proportion
 * test on sample counts, Holm-corrected): the list a CI gate would act on. Changes inside the noise are
 * left out here; the table below still shows them, unmarked.
 */
export function ComparePanel(props: { state: Async<CompareReport>; onPick?: (name: string) => void }) {
  return (
    <div className="table-view compare-panel" data-testid="compare-panel">
      <Status state={props.state} what="significance test">
        {(r) => <Significant report={r} onPick={props.onPick} />}
      </Status>
    </div>
  );
}

function Significant(props: { report: CompareReport; onPick?: (name: string) => void }) {
  const r = props.report;
  const rows: FunctionChange[] = r.functions.filter((f) => f.total.significant || f.self.significant);
  return (
    <>
      <div className="note" data-testid="compare-summary">
        {rows.length === 0
          ? `No function's share changed beyond sampling noise (${Math.round(r.base.samples)} vs ${Math.round(r.head.samples)} samples, α = ${r.alpha}).`
          : `${r.significantCount} of ${r.functionCount} functions changed beyond sampling noise (${Math.round(r.base.samples)} vs ${Math.round(r.head.samples)} samples, α = ${r.alpha}, Holm-corrected).`}
      </div>
      {rows.length > 0 && (
        <table className="top">
          <thead>
            <tr>
              <th>Function</th>
              <th>Baseline total</th>
              <th>Comparison total</th>
              <th>Total change</th>
              <th>Relative</th>
              <th>Self change</th>
              <th>p</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f) => (
              <tr key={f.name} data-name={f.name} data-total-base={f.total.base} data-total-head={f.total.head} onClick={() => props.onPick?.(f.name)}>
                <td className="fn">{f.name}</td>
                <td className="num">{pct(f.total.base)}</td>
                <td className="num">{pct(f.total.head)}</td>
                <td className={`num ${trend(f.total)}`}>{pp(f.total)}</td>
                <td className={`num ${trend(f.total)}`}>{rel(f.total)}</td>
                <td className={`num ${trend(f.self)}`}>{pp(f.self)}</td>
                <td className="num">{pValue(Math.min(f.total.pValue, f.self.pValue))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
