import type { ProfileTypeJson } from '../api/querier.js';
import { fetchAnomalies, fetchServices } from '../api/overview.js';
import { formatMoney } from '../../../src/insight/cost.js';
import { formatCores } from '../model/units.js';
import type { ViewState } from '../state/url-state.js';
import type { UpdateState } from '../state/useUrlState.js';
import { OverviewAnomalies } from './OverviewAnomalies.js';
import { OverviewTable } from './OverviewTable.js';
import { RangePicker } from './RangePicker.js';
import { Status } from './Status.js';
import type { Async } from './useAsync.js';
import { useAsync } from './useAsync.js';
import './overview.css';

/** The selector of one service (of a team, when the page is filtered by one): what its flame graph opens on. */
export function serviceSelector(team: string, service: string): string {
  const matchers = [...(team ? [`team=${JSON.stringify(team)}`] : []), `service_name=${JSON.stringify(service)}`];
  return `{${matchers.join(', ')}}`;
}

/**
 * The first page: "which service?" Every service of the range (of a team, when filtered) with its CPU
 * over the range, cores, cost and change (OverviewTable), and the anomaly panel. Everything comes from
 * two requests, /api/v1/services and /api/v1/anomalies, however many services there are.
 */
export function OverviewPage(props: {
  state: ViewState;
  update: UpdateState;
  types: Async<ProfileTypeJson[]>;
  start: number;
  end: number;
  rangeError: string;
  refresh: number;
  onRefresh: () => void;
}) {
  const { state, update, start, end } = props;
  const ready = state.type !== '' && props.rangeError === '';
  const key = ready ? `${state.type}|${state.team}|${start}|${end}|${props.refresh}` : null;
  const services = useAsync(key, (signal) => fetchServices(state.type, state.team, start, end, signal));
  const anomalies = useAsync(key, (signal) => fetchAnomalies(state.type, state.team, end, signal));
  const teams = services.status === 'done' ? services.data.teams : [];
  const open = (service: string, search = '') =>
    update({ page: 'explore', query: serviceSelector(state.team, service), view: 'flame', zoom: [], focus: '', hide: [], search });
  const dark = state.theme === 'dark';

  return (
    <div className="app overview-page">
      <header>
        <h1>Kiln</h1>
        <div className="querybar">
          <label>
            profile type
            <select data-testid="profile-type" value={state.type} onChange={(e) => update({ type: e.target.value })}>
              {(props.types.status === 'done' ? props.types.data : []).map((t) => (
                <option key={t.ID}>{t.ID}</option>
              ))}
            </select>
          </label>
          <label>
            team
            <select data-testid="team" value={state.team} onChange={(e) => update({ team: e.target.value })}>
              <option value="">all services</option>
              {(teams.includes(state.team) || state.team === '' ? teams : [...teams, state.team]).map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        </div>
        <button data-testid="to-explore" onClick={() => update({ page: 'explore' })}>
          Explore →
        </button>
        <button className="theme" data-testid="theme" onClick={() => update({ theme: dark ? 'light' : 'dark' })}>
          {dark ? '☀ light' : '☾ dark'}
        </button>
      </header>
      <section className="toolbar">
        <RangePicker from={state.from} until={state.until} onChange={(from, until) => update({ from, until })} />
        <button onClick={props.onRefresh} title="Re-read 'now'">
          ↻ refresh
        </button>
        {props.rangeError && (
          <span className="inline-error" role="alert">
            {props.rangeError}
          </span>
        )}
      </section>
      <main className="overview">
        <Status
          state={services}
          what="services"
          idle={props.rangeError ? 'Fix the time range above to load data.' : 'Looking for profile types…'}
          isEmpty={(d) => d.services.length === 0}
          empty={<>No service has samples {state.team ? `for team ${state.team} ` : ''}in this range. Try a longer range.</>}
        >
          {(data) => (
            <>
              <h2 className="overview-head" data-testid="overview-summary">
                {data.services.length + data.more} service{data.services.length + data.more === 1 ? '' : 's'}
                {state.team ? ` of team ${state.team}` : ''}
                {data.unit === 'nanoseconds' && ` · ${formatCores(data.total / 1e6 / (data.to - data.from))}`}
                {data.currency !== undefined && ` · ${formatMoney(data.services.reduce((n, s) => n + (s.costPerWeek ?? 0), 0), data.currency)} per week`}
              </h2>
              <OverviewTable data={data} onOpen={(s) => open(s)} onFunction={(s, fn) => open(s, fn)} onTeam={(team) => update({ team })} />
              {data.more > 0 && <div className="note">{data.more} lighter services are not shown.</div>}
            </>
          )}
        </Status>
        <OverviewAnomalies state={anomalies} onFunction={(s, fn) => open(s, fn)} />
      </main>
    </div>
  );
}
