import type { DiffTable } from '../../../src/query/diff.js';
import type { CostedTopTable } from '../../../src/insight/cost-top.js';
import type { TopSort } from '../../../src/query/top.js';
import type { FlameGraphDiffJson, FlameGraphJson } from '../model/decode.js';
import type { StackFilterParams } from '../model/frame-filter.js';
import { ApiError, type Selection } from './querier.js';
import { authFetch } from './auth.js';

/**
 * Client for Kiln's own JSON API (docs/API.md, "Kiln's own JSON API"): the top table, flame graph,
 * sandwich, diff and folded export of a selection, each computed by the server over every merged stack
 * (with the focus/hide filters applied there), so the page shows what `kiln query` prints.
 * querier.v1 (querier.ts) still serves what it covers alike: types, labels, series, pprof.
 */
type Params = Record<string, string | undefined>;

/** max_nodes of every graph request (flame, sandwich, diff): the most nodes the server sends for one graph. */
export const MAX_NODES = 16384;

function selectionParams(sel: Selection, prefix = ''): Params {
  // RFC 3339 with milliseconds: exact, and read the same way whatever the year (digits are read by length).
  return {
    [`${prefix}query`]: sel.labelSelector.trim() || '{}',
    [`${prefix}from`]: new Date(sel.start).toISOString(),
    [`${prefix}until`]: new Date(sel.end).toISOString(),
  };
}

export function apiUrl(path: string, params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  return `${path}?${q}`;
}

async function get(path: string, params: Params, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await authFetch(apiUrl(path, params), { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`${path}: cannot reach the Kiln server (${(e as Error).message})`, 'unavailable');
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    let message = text || res.statusText || `HTTP ${res.status}`;
    try {
      const body = JSON.parse(text) as { error?: string };
      if (body.error) message = body.error;
    } catch {
      // Not Kiln's JSON error body (a proxy's HTML page, say): show its text as is.
    }
    throw new ApiError(message, `http_${res.status}`);
  }
  return res;
}

/** GET of a Kiln JSON route; a failure is an ApiError with the server's own message. */
export async function getJson<T>(path: string, params: Params, signal?: AbortSignal): Promise<T> {
  return (await (await get(path, params, signal)).json()) as T;
}

export async function fetchFlameGraph(sel: Selection, filter: StackFilterParams, maxNodes: number, signal?: AbortSignal): Promise<FlameGraphJson> {
  const params = { ...selectionParams(sel), profile_type: sel.profileTypeID, ...filter, max_nodes: String(maxNodes) };
  return (await getJson<{ flamegraph: FlameGraphJson }>('/api/v1/flamegraph', params, signal)).flamegraph;
}

/** The selection as folded stacks (`a;b;c 12` lines), with the filters applied: every stack, none trimmed. */
export async function fetchFolded(sel: Selection, filter: StackFilterParams): Promise<string> {
  const params = { ...selectionParams(sel), profile_type: sel.profileTypeID, ...filter, format: 'folded' };
  return (await get('/api/v1/flamegraph', params)).text();
}

export interface TopRequest {
  readonly filter: StackFilterParams;
  readonly sort: TopSort;
}

/**
 * Every function of the selection (no row limit: the page sorts, filters and pages through them), with
 * each one's cost when the server has prices for this type (`cost:` in its config).
 */
export async function fetchTop(sel: Selection, req: TopRequest, signal?: AbortSignal): Promise<CostedTopTable> {
  const params = { ...selectionParams(sel), profile_type: sel.profileTypeID, ...req.filter, sort: req.sort, limit: '0' };
  const { total, entries, cost } = await getJson<CostedTopTable>('/api/v1/top', params, signal);
  return cost ? { total, entries, cost } : { total, entries };
}

export interface SandwichJson {
  readonly callers: FlameGraphJson;
  readonly callees: FlameGraphJson;
}

export async function fetchSandwich(sel: Selection, fn: string, filter: StackFilterParams, maxNodes: number, signal?: AbortSignal): Promise<SandwichJson> {
  const params = { ...selectionParams(sel), profile_type: sel.profileTypeID, ...filter, function: fn, max_nodes: String(maxNodes) };
  const { callers, callees } = await getJson<SandwichJson>('/api/v1/sandwich', params, signal);
  return { callers, callees };
}

export interface DiffJson {
  readonly flamegraph: FlameGraphDiffJson;
  readonly table: DiffTable;
}

/** Baseline (base) against comparison (head): both sides' graph and every function's values. */
export async function fetchDiff(
  base: Selection,
  head: Selection,
  maxNodes: number,
  signal?: AbortSignal,
): Promise<DiffJson> {
  const params = {
    ...selectionParams(base, 'base_'),
    ...selectionParams(head, 'head_'),
    profile_type: head.profileTypeID,
    max_nodes: String(maxNodes),
    limit: '0',
  };
  const { flamegraph, table } = await getJson<DiffJson>('/api/v1/diff', params, signal);
  return { flamegraph, table };
}
