import type { AnomalyReport } from '../../../src/insight/anomalies.js';
import { Status } from './Status.js';
import type { Async } from './useAsync.js';

const pct = (share: number) => `${(share * 100).toFixed(1)}%`;

/**
 * The anomaly panel: functions whose share of their service this hour is far outside what the same
 * hour looked like over the past week (median ± MAD, /api/v1/anomalies). A click opens the service's
 * flame graph with the function highlighted.
 */
export function OverviewAnomalies(props: { state: Async<AnomalyReport>; onFunction: (service: string, fn: string) => void }) {
  return (
    <section className="anomalies" data-testid="anomalies">
      <h2>Anomalies this hour</h2>
      <Status state={props.state} what="anomalies" isEmpty={(r) => r.anomalies.length === 0} empty={<EmptyNote state={props.state} />}>
        {(r) => (
          <ul>
            {r.anomalies.slice(0, 20).map((a) => (
              <li key={`${a.service}|${a.function}`} data-testid="anomaly" data-service={a.service} data-function={a.function}>
                <button className="link" onClick={() => props.onFunction(a.service, a.function)}>
                  <code>{a.function}</code>
                </button>{' '}
                in <b>{a.service || '(no service_name)'}</b>:{' '}
                <span className={a.direction === 'up' ? 'worse' : 'better'}>
                  {pct(a.share)} of its CPU, usually {pct(a.median)} (±{pct(1.4826 * a.mad)})
                </span>{' '}
                <span className="hint">score {a.score.toFixed(1)}</span>
              </li>
            ))}
          </ul>
        )}
      </Status>
    </section>
  );
}

function EmptyNote(props: { state: Async<AnomalyReport> }) {
  const r = props.state.status === 'done' ? props.state.data : undefined;
  if (!r) return null;
  return r.services === 0 ? (
    <>No service has three days of history at this hour yet: anomalies need a baseline.</>
  ) : (
    <>
      Nothing unusual: every function of {r.services} service{r.services === 1 ? '' : 's'} is within its usual share for this hour.
    </>
  );
}
