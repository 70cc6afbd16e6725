import { mergedPprof, type Selection } from '../api/querier.js';
import { download } from '../download.js';
import type { FlameTree } from '../model/flame-tree.js';
import { toFolded } from '../model/transforms.js';
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
 * (SelectMergeProfile), folded is the view as shown (after focus/hide), built in the browser.
 */
export function ViewTabs(props: { state: ViewState; update: UpdateState; sel: Selection | null; shaped: FlameTree | null }) {
  const { state, update, sel, shaped } = props;
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
          onClick={async () => {
            try {
              download(await mergedPprof(sel!), 'kiln-profile.pb', 'application/octet-stream');
            } catch (e) {
              window.alert(`Download failed: ${(e as Error).message}`);
            }
          }}
        >
          ⤓ pprof
        </button>
        <button
          data-testid="download-folded"
          disabled={!shaped}
          onClick={() => shaped && download(toFolded(shaped), 'kiln-profile.folded.txt', 'text/plain')}
        >
          ⤓ folded
        </button>
      </span>
    </nav>
  );
}
