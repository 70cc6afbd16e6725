import type { AlertPayload } from './alert-rules.js';

/**
 * Sends alerts to Alertmanager's v2 API (`POST /api/v2/alerts`, a JSON list), as Prometheus does.
 * Alertmanager groups, deduplicates (by labels), silences and routes them; Kiln only has to re-send
 * firing alerts before their endsAt passes and send resolved ones with endsAt set to when they cleared.
 */
export async function postAlerts(alertmanagerUrl: string, alerts: readonly AlertPayload[], timeoutMs: number): Promise<void> {
  if (alerts.length === 0) return;
  let res: Response;
  try {
    res = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`Alertmanager ${alertmanagerUrl} unreachable: ${(e as Error).message}`);
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 300);
    throw new Error(`Alertmanager ${alertmanagerUrl} answered ${res.status}: ${body}`);
  }
  await res.arrayBuffer().catch(() => undefined);
}
