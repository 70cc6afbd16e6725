import type { CompareReport } from '../../../src/insight/compare.js';
import { apiUrl } from './kiln.js';
import { ApiError, type Selection } from './querier.js';
import { authFetch } from './auth.js';

/**
 * The regression gate's comparison of two selections (/api/v1/compare, docs/CI.md): every function's
 * self and total share on both sides, with the significance test that tells a change from sampling
 * noise — what `kiln compare` prints for the same two selections.
 */
export async function fetchCompare(base: Selection, head: Selection, signal?: AbortSignal): Promise<CompareReport> {
  const side = (prefix: string, s: Selection) => ({
    [`${prefix}query`]: s.labelSelector.trim() || '{}',
    [`${prefix}from`]: new Date(s.start).toISOString(),
    [`${prefix}until`]: new Date(s.end).toISOString(),
  });
  // limit 0: every function, so the diff table can mark each significant row, not only the first few.
  const url = apiUrl('/api/v1/compare', { ...side('base_', base), ...side('head_', head), profile_type: head.profileTypeID, limit: '0' });
  let res: Response;
  try {
    res = await authFetch(url, { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`/api/v1/compare: cannot reach the Kiln server (${(e as Error).message})`, 'unavailable');
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text || `HTTP ${res.status}`;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // a proxy's page: its text as is
    }
    throw new ApiError(message, `http_${res.status}`);
  }
  return JSON.parse(text) as CompareReport;
}
