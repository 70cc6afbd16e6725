import { fetchFolded } from '../api/kiln.js';
import { mergedPprof, type Selection } from '../api/querier.js';
import { download } from '../download.js';
import type { StackFilterParams } from '../model/frame-filter.js';
import type { ViewMode, ViewState } from '../state/url-state.js';
import type { UpdateState } from '../state/useUrlState.js';

const VIEW_LABELS: [ViewMode, string][] = [
  ['flame', 'Flame graph'],
  ['table', 'Top table'],
  ['split', 'Split'],
  ['sandwich', 'Sandwich'],
  ['diff', 'Diff'],
];

/**
 * View switcher, function search and downloads: pprof is the server's merge of the selection
 * (SelectMergeProfile); folded is the selection after the page's focus/hide, every stack of it (the
 * server's folded export, not the drawn graph, which may have folded small frames into `other`).
 */
export function ViewTabs(props: { state: ViewState; update: UpdateState; sel: Selection | null; filter: StackFilterParams }) {
  const { state, update, sel, filter } = props;
  const save = async (what: string, get: () => Promise<Uint8Array | string>, filename: string, type: string) => {
    try {
      download(await get(), filename, type);
    } catch (e) {
      window.alert(`${what} download failed: ${(e as Error).message}`);
    }
  };
  return (
    <nav className="tabs">
      {VIEW_LABELS.map(([v, label]) => (
        <button key={v} data-testid={`view-${v}`} className={state.view === v ? 'active' : ''} onClick={() => update({ view: v, zoom: [] })}>
          {label}
        </button>
      ))}
      <input
        className="search"
        data-testid="search"
        placeholder="Search functions (substring or /regex/)"
        value={state.search}
        onChange={(e) => update({ search: e.target.value }, 'replace')}
      />
      <span className="downloads">
        <button
          data-testid="download-pprof"
          disabled={!sel}
          onClick={() => void save('pprof', () => mergedPprof(sel!), 'kiln-profile.pb', 'application/octet-stream')}
        >
          ⤓ pprof
        </button>
        <button
          data-testid="download-folded"
          disabled={!sel}
          onClick={() => void save('folded', () => fetchFolded(sel!, filter), 'kiln-profile.folded.txt', 'text/plain')}
        >
          ⤓ folded
        </button>
      </span>
    </nav>
  );
}
