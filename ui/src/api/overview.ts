import type { AnomalyReport } from '../../../src/insight/anomalies.js';
import type { Overview } from '../../../src/insight/overview.js';
import { getJson } from './kiln.js';

/** /api/v1/services: the overview, with the team that filtered it and the teams a filter can pick. */
export type ServicesJson = Overview & { readonly team: string; readonly teams: readonly string[] };

/** Every service of the range (of `team`, when given), heaviest first (docs/TEAMS-AND-COST.md). */
export function fetchServices(profileType: string, team: string, start: number, end: number, signal?: AbortSignal): Promise<ServicesJson> {
  return getJson<ServicesJson>(
    '/api/v1/services',
    { profile_type: profileType, team, from: new Date(start).toISOString(), until: new Date(end).toISOString(), limit: '500' },
    signal,
  );
}

/** Functions whose share of their service left its usual band for this hour of the day (the range's last hour). */
export function fetchAnomalies(profileType: string, team: string, end: number, signal?: AbortSignal): Promise<AnomalyReport> {
  return getJson<AnomalyReport>('/api/v1/anomalies', { profile_type: profileType, team, until: new Date(end).toISOString() }, signal);
}
