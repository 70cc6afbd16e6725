import { useMemo } from 'react';
import { fetchCompare } from '../api/compare.js';
import { MAX_NODES, fetchDiff } from '../api/kiln.js';
import type { Selection } from '../api/querier.js';
import { FlameGraph } from '../flame/FlameGraph.js';
import { decodeDiffFlameGraph } from '../model/decode.js';
import { checkLabelSelector } from '../model/label-selector.js';
import { nameTest } from '../model/name-query.js';
import { resolveRange } from '../model/time-range.js';
import type { ViewState } from '../state/url-state.js';
import { ComparePanel, CompareTo, baselineRange, significantNames, type ComparePreset } from './ComparePanel.js';
import { DiffTable } from './DiffTable.js';
import { Status } from './Status.js';
import { useAsync } from './useAsync.js';

/**
 * Baseline vs comparison: two label sets (e.g. version="1.4" vs version="1.5") and/or two ranges. Empty
 * fields fall back to the main selector and range, so "compare yesterday" is one edit. The graph and the
 * table come from one /api/v1/diff answer. "Compare to…" picks an earlier baseline in one click and asks
 * /api/v1/compare which changes are beyond sampling noise (the regression gate's test): they are listed
 * above the table and marked in it.
 */
export function DiffView(props: {
  state: ViewState;
  sampleUnit: string;
  /** Bumped by the page's refresh button: relative ranges ("now-1h") are resolved again. */
  refresh: number;
  update: (patch: Partial<ViewState>) => void;
}) {
  const { state, update } = props;
  const side = (q: string, f: string, u: string) => ({ query: q || state.query, from: f || state.from, until: u || state.until });
  const left = side(state.leftQuery, state.leftFrom, state.leftUntil);
  const right = side(state.rightQuery, state.rightFrom, state.rightUntil);
  // Resolved once per typed range, not per render: "now" read on every render gave a new key each time,
  // so every answer (and every keystroke) started the diff request again.
  const ranges = useMemo(() => {
    try {
      return { lr: resolveRange(left.from, left.until), rr: resolveRange(right.from, right.until), error: '' };
    } catch (e) {
      return { lr: null, rr: null, error: (e as Error).message };
    }
  }, [left.from, left.until, right.from, right.until, props.refresh]);
  let problem = ranges.error;
  for (const [name, q] of [['baseline', left.query], ['comparison', right.query]] as const) {
    const p = checkLabelSelector(q);
    if (!problem && !p.ok) problem = `${name} selector: ${p.error}`;
  }
  const sels: [Selection, Selection] | null =
    ranges.lr && ranges.rr
      ? [
          { profileTypeID: state.type, labelSelector: left.query, ...ranges.lr },
          { profileTypeID: state.type, labelSelector: right.query, ...ranges.rr },
        ]
      : null;
  const key = sels && !problem && state.type ? JSON.stringify(sels) : null;
  const result = useAsync(key, async (signal) => {
    const { flamegraph, table } = await fetchDiff(sels![0], sels![1], MAX_NODES, signal);
    return { tree: decodeDiffFlameGraph(flamegraph), table };
  });
  // Same sides, same key: the significance test runs exactly when the diff does, if it is on.
  const compare = useAsync(key && state.compare === '1' ? `compare|${key}` : null, (signal) => fetchCompare(sels![0], sels![1], signal));
  const significant = useMemo(() => (compare.status === 'done' ? significantNames(compare.data) : undefined), [compare]);
  const compareTo = (preset: ComparePreset) => {
    if (!ranges.rr) return;
    const b = baselineRange(preset, ranges.rr.start, ranges.rr.end);
    // Both sides pinned to absolute times: a baseline "a day before now-1h" must not drift from its comparison.
    update({
      leftQuery: '',
      leftFrom: String(b.start),
      leftUntil: String(b.end),
      rightFrom: String(ranges.rr.start),
      rightUntil: String(ranges.rr.end),
      compare: '1',
    });
  };
  const searchTest = useMemo(() => nameTest(state.search), [state.search]);
  const rangeSeconds = ranges.rr ? (ranges.rr.end - ranges.rr.start) / 1000 : 0;

  const field = (label: string, testId: string, value: string, placeholder: string, k: keyof ViewState) => (
    <label>
      {label}
      <input data-testid={testId} value={value} placeholder={placeholder} spellCheck={false} onChange={(e) => update({ [k]: e.target.value })} />
    </label>
  );

  return (
    <div className="diff-view" data-testid="diff-view">
      <div className="diff-sides">
        <fieldset>
          <legend>Baseline</legend>
          {field('Selector', 'diff-left-query', state.leftQuery, state.query, 'leftQuery')}
          {field('From', 'diff-left-from', state.leftFrom, state.from, 'leftFrom')}
          {field('Until', 'diff-left-until', state.leftUntil, state.until, 'leftUntil')}
        </fieldset>
        <fieldset>
          <legend>Comparison</legend>
          {field('Selector', 'diff-right-query', state.rightQuery, state.query, 'rightQuery')}
          {field('From', 'diff-right-from', state.rightFrom, state.from, 'rightFrom')}
          {field('Until', 'diff-right-until', state.rightUntil, state.until, 'rightUntil')}
        </fieldset>
        <div className="diff-compare" style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
          <CompareTo onPick={compareTo} />
          <label style={{ flexDirection: 'row', alignItems: 'center', gap: 4 }} title="Which changes are beyond sampling noise (the test kiln compare gates on)">
            <input type="checkbox" data-testid="compare-toggle" checked={state.compare === '1'} onChange={(e) => update({ compare: e.target.checked ? '1' : '' })} />
            test significance
          </label>
        </div>
        <div className="diff-legend">
          <span className="swatch slower" /> comparison slower (more) <span className="swatch faster" /> faster (less)
        </div>
      </div>
      {problem ? (
        <div className="state error" role="alert" data-testid="diff-error">
          {problem}
        </div>
      ) : (
        <Status
          state={result}
          what="diff"
          isEmpty={(d) => d.tree.count === 0 || d.table.baseTotal + d.table.headTotal === 0}
          empty="Neither side has samples: widen a range or check the selectors."
        >
          {(d) => (
            <>
              <FlameGraph
                tree={d.tree}
                sampleUnit={props.sampleUnit}
                rangeSeconds={rangeSeconds}
                dark={state.theme === 'dark'}
                search={state.search}
                searchTest={searchTest}
                zoom={state.zoom}
                onZoom={(zoom) => update({ zoom })}
                testId="diff-flame"
              />
              {state.compare === '1' && <ComparePanel state={compare} onPick={(search) => update({ search })} />}
              <DiffTable
                state={{ status: 'done', data: d.table }}
                significant={significant}
                sort={state.sort === 'self' ? 'change' : state.sort}
                filter={state.filter}
                onSort={(sort) => update({ sort })}
                onFilter={(filter) => update({ filter })}
                onPick={(search) => update({ search })}
              />
            </>
          )}
        </Status>
      )}
    </div>
  );
}
