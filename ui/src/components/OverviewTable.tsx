import { formatMoney } from '../../../src/insight/cost.js';
import type { ServiceRow } from '../../../src/insight/overview.js';
import type { ServicesJson } from '../api/overview.js';
import { formatCores, formatPercent, formatValue } from '../model/units.js';
import { OverviewSparkline } from './OverviewSparkline.js';

/** `+12.3%`, `-4.0%`, `new` when the service was not there the period before. */
export function formatChange(change: number | null): string {
  if (change === null) return 'new';
  const p = change * 100;
  return `${p >= 0 ? '+' : '−'}${Math.abs(p).toFixed(1)}%`;
}

/**
 * Every service of the overview, heaviest first: its CPU over the range, cores, cost per week, the
 * change against the previous period and its three hottest functions. A click opens its flame graph.
 * Unfiltered, each service also shows its teams (configured or from its `team` label) as badges that
 * filter the page to that team; filtered by a team, that column would only repeat the filter.
 */
export function OverviewTable(props: {
  data: ServicesJson;
  onOpen: (service: string) => void;
  onFunction: (service: string, fn: string) => void;
  onTeam: (team: string) => void;
}) {
  const { data } = props;
  const showTeams = data.team === '' && data.services.some((s) => s.teams.length > 0);
  const cpu = data.unit === 'nanoseconds';
  const rangeSeconds = (data.to - data.from) / 1000;
  const priced = data.currency !== undefined;
  const amount = (s: ServiceRow) => (cpu && s.cores !== undefined ? formatCores(s.cores) : formatValue(s.value, data.unit, rangeSeconds));
  return (
    <table className="top services" data-testid="services">
      <thead>
        <tr>
          <th>Service</th>
          {showTeams && <th>Team</th>}
          <th>Over the range</th>
          <th className="num">{cpu ? 'Cores' : 'Value'}</th>
          <th className="num">Share</th>
          {priced && <th className="num">Cost / week</th>}
          <th className="num" title="Against the period of the same length just before">Change</th>
          <th>Hottest functions (self)</th>
        </tr>
      </thead>
      <tbody>
        {data.services.map((s) => (
          <tr key={s.service} data-service={s.service} data-value={s.value} onClick={() => props.onOpen(s.service)}>
            <td className="fn service-name">{s.service || '(no service_name)'}</td>
            {showTeams && (
              <td data-testid="teams">
                {s.teams.map((t) => (
                  <button
                    key={t}
                    className="link team-badge"
                    title={`Show only team ${t}'s services`}
                    onClick={(e) => {
                      e.stopPropagation();
                      props.onTeam(t);
                    }}
                  >
                    {t}
                  </button>
                ))}
              </td>
            )}
            <td>
              <OverviewSparkline points={s.spark} />
            </td>
            <td className="num" data-testid="cores">{amount(s)}</td>
            <td className="num">{formatPercent(s.value, data.total)}</td>
            {priced && (
              <td className="num" data-testid="cost">
                {s.costPerWeek !== undefined ? formatMoney(s.costPerWeek, data.currency!) : ''}
              </td>
            )}
            <td className={`num ${s.change === null || s.change > 0.05 ? 'worse' : s.change < -0.05 ? 'better' : ''}`} data-testid="change">
              {formatChange(s.change)}
            </td>
            <td className="hot">
              {s.top.map((f) => (
                <button
                  key={f.name}
                  className="link fn-chip"
                  title={`${f.name}: ${formatPercent(f.self, s.value)} of ${s.service} — open the flame graph with it highlighted`}
                  onClick={(e) => {
                    e.stopPropagation();
                    props.onFunction(s.service, f.name);
                  }}
                >
                  {f.name}
                </button>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
