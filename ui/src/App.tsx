import { useEffect, useMemo, useState } from 'react';
import { labelNames, profileTypes, selectSeries, type ProfileTypeJson, type Selection } from './api/querier.js';
import { DiffView } from './components/DiffView.js';
import { GroupBy } from './components/GroupBy.js';
import { MergeView } from './components/MergeView.js';
import { OverviewPage } from './components/OverviewPage.js';
import { ViewTabs } from './components/ViewTabs.js';
import { QueryBar } from './components/QueryBar.js';
import { RangePicker } from './components/RangePicker.js';
import { SeriesChart } from './components/SeriesChart.js';
import { Status } from './components/Status.js';
import { useAsync } from './components/useAsync.js';
import { describeEntry, stackFilter } from './model/frame-filter.js';
import { checkLabelSelector } from './model/label-selector.js';
import { KIND_LEGEND, legendColor } from './model/palette.js';
import { resolveRange, stepSeconds } from './model/time-range.js';
import { useUrlState } from './state/useUrlState.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/** CPU first: the agent's type if present, else any cpu sample type, else the first the server lists. */
function defaultType(types: ProfileTypeJson[]): string {
  return (
    types.find((t) => t.ID === CPU)?.ID ??
    types.find((t) => t.ID.split(':')[1] === 'cpu')?.ID ??
    types[0]?.ID ??
    ''
  );
}

export function App() {
  const [state, update] = useUrlState();
  const [refresh, setRefresh] = useState(0);

  const range = useMemo(() => {
    try {
      return { ...resolveRange(state.from, state.until), error: '' };
    } catch (e) {
      return { start: 0, end: 0, error: (e as Error).message };
    }
    // `refresh` re-resolves "now" on demand.
  }, [state.from, state.until, refresh]);
  const { start, end } = range;
  const rangeSeconds = (end - start) / 1000;

  const types = useAsync(range.error ? null : `types|${start}|${end}`, (s) => profileTypes(start, end, s));
  useEffect(() => {
    if (types.status === 'done' && !state.type && types.data.length) update({ type: defaultType(types.data) }, 'replace');
  }, [types, state.type, update]);

  // One LabelNames request per range, shared by the selector's autocomplete and the chart's group-by.
  const names = useAsync(range.error || state.page === 'services' ? null : `names|${start}|${end}`, (s) => labelNames([], start, end, s));
  const labelNamesInRange = names.status === 'done' ? names.data : [];

  const sampleUnit = state.type.split(':')[2] ?? '';
  const selectorOk = checkLabelSelector(state.query).ok;
  const sel: Selection | null =
    state.page === 'explore' && state.type && selectorOk && !range.error ? { profileTypeID: state.type, labelSelector: state.query, start, end } : null;
  const selKey = sel ? JSON.stringify(sel) : null;
  const step = stepSeconds(start, end);

  const series = useAsync(selKey && `${selKey}|${state.groupBy}|${step}`, (s) =>
    selectSeries(sel!, state.groupBy ? [state.groupBy] : [], step, s),
  );
  // Focus and hide go to the server as stack filters: every view of the merge is computed with them there.
  const filter = useMemo(() => stackFilter(state.focus, state.hide), [state.focus, state.hide]);

  // The landing page: every service at a glance; a click opens the explore view below on one of them.
  if (state.page === 'services') {
    return (
      <OverviewPage state={state} update={update} types={types} start={start} end={end} rangeError={range.error} refresh={refresh} onRefresh={() => setRefresh((n) => n + 1)} />
    );
  }

  const idleReason = range.error
    ? 'Fix the time range above to load data.'
    : !selectorOk
      ? 'Fix the selector above (see the message under it) to load data.'
      : types.status === 'done' && types.data.length === 0
        ? 'No profile types in this range.'
        : undefined;
  // The series request is made for every view: when the server refuses the selector, its words go under the field.
  const serverError = series.status === 'error' && /selector|matcher|regex/i.test(series.error) ? series.error : '';
  const dark = state.theme === 'dark';

  const emptyMessage = (
    <>
      No samples for <code>{state.query}</code> in {state.type || 'this type'} over this range. Try a longer range or
      another service.
    </>
  );

  return (
    <div className="app">
      <header>
        <h1>Kiln</h1>
        <button data-testid="to-services" title="Every service at a glance" onClick={() => update({ page: 'services' })}>
          ← Services
        </button>
        {types.status === 'error' ? (
          <div className="state error" role="alert" data-testid="error">
            Could not reach the profile store: {types.error}
          </div>
        ) : (
          <QueryBar
            types={types.status === 'done' ? types.data : []}
            labelNames={labelNamesInRange}
            type={state.type}
            query={state.query}
            start={start}
            end={end}
            serverError={serverError}
            onType={(type) => update({ type, zoom: [], focus: '', hide: [] })}
            onQuery={(query) => update({ query, zoom: [] })}
          />
        )}
        <button
          className="theme"
          data-testid="theme"
          title="Switch light/dark"
          onClick={() => update({ theme: dark ? 'light' : 'dark' })}
        >
          {dark ? '☀ light' : '☾ dark'}
        </button>
      </header>
      <section className="toolbar">
        <RangePicker from={state.from} until={state.until} onChange={(from, until) => update({ from, until, zoom: [] })} />
        <button onClick={() => setRefresh((n) => n + 1)} title="Re-read 'now'">
          ↻ refresh
        </button>
        {range.error && (
          <span className="inline-error" role="alert">
            {range.error}
          </span>
        )}
      </section>
      {types.status === 'done' && types.data.length === 0 && (
        <div className="state empty" data-testid="no-data">
          No profiles in this range yet. Point an agent or SDK at this server (for example <code>kiln agent</code>, a
          Pyroscope SDK, or an OpenTelemetry profiler) or pick a longer range.
        </div>
      )}
      <section className="chart-panel">
        <div className="chart-head">
          <span>Total over time</span>
          <label>
            group by{' '}
            <GroupBy value={state.groupBy} names={labelNamesInRange} onChange={(groupBy) => update({ groupBy })} />
          </label>
          <span className="hint">drag across the chart to zoom into a range</span>
        </div>
        <Status state={series} what="time series" idle={idleReason} isEmpty={(s) => s.length === 0} empty={emptyMessage}>
          {(data) => (
            <SeriesChart
              series={data}
              start={start}
              end={end}
              step={step}
              sampleUnit={sampleUnit}
              groupBy={state.groupBy}
              dark={dark}
              onSelectRange={(a, b) => update({ from: String(a), until: String(b), zoom: [] })}
            />
          )}
        </Status>
      </section>
      <ViewTabs state={state} update={update} sel={sel} filter={filter} />
      {(state.focus || state.hide.length > 0) && state.view !== 'diff' && (
        <div className="chips">
          {state.focus && (
            <span className="chip" data-testid="chip-focus">
              focus: {describeEntry(state.focus)} <button onClick={() => update({ focus: '', zoom: [] })}>×</button>
            </span>
          )}
          {state.hide.map((h) => (
            <span className="chip" key={h}>
              hidden: {describeEntry(h)} <button onClick={() => update({ hide: state.hide.filter((x) => x !== h), zoom: [] })}>×</button>
            </span>
          ))}
        </div>
      )}
      <main>
        {state.view === 'diff' ? (
          <DiffView state={state} sampleUnit={sampleUnit} refresh={refresh} update={(p) => update(p, 'replace')} />
        ) : (
          <MergeView
            state={state}
            update={update}
            sel={sel}
            filter={filter}
            sampleUnit={sampleUnit}
            rangeSeconds={rangeSeconds}
            idle={idleReason}
            empty={emptyMessage}
          />
        )}
      </main>
      <footer>
        {KIND_LEGEND.map((k) => (
          <span key={k.kind} className="legend">
            <span className="swatch" style={{ background: legendColor(k.kind, dark) }} /> {k.label}
          </span>
        ))}
        <span className="hint">hover for values · click to zoom · right-click for focus/hide/sandwich · arrows + Enter to navigate</span>
      </footer>
    </div>
  );
}
