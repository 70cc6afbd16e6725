/**
 * Every piece of view state lives in the URL's query string, so a copied link reproduces the exact view
 * and the back button walks through what the user did.
 */
export type ViewMode = 'flame' | 'table' | 'split' | 'sandwich' | 'diff';
export type Theme = 'light' | 'dark';
/** services: the overview of every service (the landing page); explore: one selection's graphs and tables. */
export type Page = 'services' | 'explore';

export interface ViewState {
  page: Page;
  /** Services page: the team whose services are listed ('' = every service). */
  team: string;
  type: string;
  query: string;
  from: string;
  until: string;
  groupBy: string;
  view: ViewMode;
  search: string;
  /** Zoomed frame as the names from the root down ("main;handle;parse"). */
  zoom: string[];
  focus: string;
  hide: string[];
  /** Function shown in sandwich view. */
  fn: string;
  /** Table sort: column, optionally prefixed with "-" for ascending (descending is the default). */
  sort: string;
  filter: string;
  theme: Theme;
  /** Diff: baseline (left) and comparison (right) selectors and ranges; empty means "same as main". */
  leftQuery: string;
  leftFrom: string;
  leftUntil: string;
  rightQuery: string;
  rightFrom: string;
  rightUntil: string;
  /** Diff: '1' shows which changes are beyond sampling noise (/api/v1/compare); '' hides it. */
  compare: string;
}

export const DEFAULT_STATE: ViewState = {
  page: 'explore',
  team: '',
  type: '',
  query: '{}',
  from: 'now-1h',
  until: 'now',
  groupBy: '',
  view: 'flame',
  search: '',
  zoom: [],
  focus: '',
  hide: [],
  fn: '',
  sort: 'self',
  filter: '',
  theme: 'light',
  leftQuery: '',
  leftFrom: '',
  leftUntil: '',
  rightQuery: '',
  rightFrom: '',
  rightUntil: '',
  compare: '',
};

const VIEWS: readonly ViewMode[] = ['flame', 'table', 'split', 'sandwich', 'diff'];

// Short parameter names keep shared links readable.
const KEYS: Record<Exclude<keyof ViewState, 'zoom' | 'hide' | 'view' | 'theme' | 'page'>, string> = {
  team: 'team',
  type: 'type',
  query: 'query',
  from: 'from',
  until: 'until',
  groupBy: 'groupBy',
  search: 'search',
  focus: 'focus',
  fn: 'fn',
  sort: 'sort',
  filter: 'filter',
  leftQuery: 'lq',
  leftFrom: 'lfrom',
  leftUntil: 'luntil',
  rightQuery: 'rq',
  rightFrom: 'rfrom',
  rightUntil: 'runtil',
  compare: 'compare',
};

export function parseState(search: string): ViewState {
  const p = new URLSearchParams(search);
  const s: ViewState = { ...DEFAULT_STATE, zoom: [], hide: [] };
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const v = p.get(key);
    if (v !== null) s[field] = v;
  }
  // A bare address opens the services overview; links with parameters (alerts, reports, older links)
  // open what they name, as they always did.
  if (p.get('page') === 'services' || (p.get('page') === null && [...p.keys()].length === 0)) s.page = 'services';
  const view = p.get('view');
  if (view && (VIEWS as readonly string[]).includes(view)) s.view = view as ViewMode;
  if (p.get('theme') === 'dark') s.theme = 'dark';
  const zoom = p.get('zoom');
  if (zoom) s.zoom = zoom.split(';');
  s.hide = p.getAll('hide').filter(Boolean);
  return s;
}

export function serializeState(s: ViewState): string {
  const p = new URLSearchParams();
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    if (s[field] !== DEFAULT_STATE[field]) p.set(key, s[field]);
  }
  if (s.page === 'services') p.set('page', 'services');
  if (s.view !== DEFAULT_STATE.view) p.set('view', s.view);
  if (s.theme !== DEFAULT_STATE.theme) p.set('theme', s.theme);
  if (s.zoom.length) p.set('zoom', s.zoom.join(';'));
  for (const h of s.hide) p.append('hide', h);
  const q = p.toString();
  return q ? `?${q}` : '';
}
