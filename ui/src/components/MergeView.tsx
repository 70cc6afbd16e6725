import { useMemo, type ReactNode } from 'react';
import { MAX_NODES, fetchFlameGraph, fetchSandwich, fetchTop } from '../api/kiln.js';
import type { Selection } from '../api/querier.js';
import { FlameGraph } from '../flame/FlameGraph.js';
import { decodeFlameGraph } from '../model/decode.js';
import { packageEntry, type StackFilterParams } from '../model/frame-filter.js';
import { packageOf } from '../model/frame-kind.js';
import { rootTotal, type FlameTree } from '../model/flame-tree.js';
import { nameTest } from '../model/name-query.js';
import type { ViewState } from '../state/url-state.js';
import type { UpdateState } from '../state/useUrlState.js';
import { Sandwich, type SandwichTrees } from './Sandwich.js';
import { Status } from './Status.js';
import { TopTable, topSortOf } from './TopTable.js';
import { useAsync } from './useAsync.js';

/**
 * The views of one merged selection — flame graph, top table, both side by side, sandwich — each asked
 * of the server with the page's focus/hide filters, and only while it is on screen.
 */
export function MergeView(props: {
  state: ViewState;
  update: UpdateState;
  sel: Selection | null;
  filter: StackFilterParams;
  sampleUnit: string;
  rangeSeconds: number;
  /** Why nothing loads (no type yet, a bad selector or range). */
  idle?: ReactNode;
  empty: ReactNode;
}) {
  const { state, update, sel, filter, sampleUnit, rangeSeconds } = props;
  // Every request below is for this selection under these filters; a change of either reloads them.
  const scope = sel ? JSON.stringify([sel, filter]) : null;
  const showFlame = state.view === 'flame' || state.view === 'split';
  const showTable = state.view === 'table' || state.view === 'split';
  const sandwichFn = state.view === 'sandwich' ? state.fn : '';
  const sort = topSortOf(state.sort).key;

  const flame = useAsync(showFlame ? scope : null, async (signal) => {
    const json = await fetchFlameGraph(sel!, filter, MAX_NODES, signal);
    performance.mark('kiln-decode-start');
    const tree = decodeFlameGraph(json);
    performance.measure('kiln-decode', 'kiln-decode-start');
    return tree;
  });
  const top = useAsync(showTable && scope ? `${scope}|${sort}` : null, (signal) => fetchTop(sel!, { filter, sort }, signal));
  const sandwich = useAsync(sandwichFn && scope ? `${scope}|${sandwichFn}` : null, async (signal): Promise<SandwichTrees> => {
    const json = await fetchSandwich(sel!, sandwichFn, filter, MAX_NODES, signal);
    return { callers: decodeFlameGraph(json.callers, sandwichFn), callees: decodeFlameGraph(json.callees, sandwichFn) };
  });
  const searchTest = useMemo(() => nameTest(state.search), [state.search]);

  const flameView = (tree: FlameTree, testId = 'flame', inverted = false) => (
    <FlameGraph
      inverted={inverted}
      tree={tree}
      sampleUnit={sampleUnit}
      rangeSeconds={rangeSeconds}
      dark={state.theme === 'dark'}
      search={state.search}
      searchTest={searchTest}
      zoom={state.zoom}
      onZoom={(zoom) => update({ zoom })}
      onFocus={(focus) => update({ focus, zoom: [] })}
      onHide={(name) => update({ hide: [...state.hide, name], zoom: [] })}
      onFocusPackage={(name) => update({ focus: packageEntry(packageOf(name)), zoom: [] })}
      onHidePackage={(name) => update({ hide: [...state.hide, packageEntry(packageOf(name))], zoom: [] })}
      onSandwich={(fn) => update({ fn, view: 'sandwich', zoom: [] })}
      testId={testId}
    />
  );
  const flamePanel = (
    <Status state={flame} what="flame graph" idle={props.idle} isEmpty={(t) => rootTotal(t) === 0} empty={props.empty}>
      {(tree) => flameView(tree)}
    </Status>
  );
  const tablePanel = (
    <TopTable
      state={top}
      scope={scope ?? ''}
      idle={props.idle}
      empty={props.empty}
      sampleUnit={sampleUnit}
      rangeSeconds={rangeSeconds}
      sort={state.sort}
      filter={state.filter}
      onSort={(s) => update({ sort: s })}
      onFilter={(f) => update({ filter: f }, 'replace')}
      onPick={(search) => update({ search }, 'replace')}
    />
  );

  switch (state.view) {
    case 'table':
      return tablePanel;
    case 'split':
      return (
        <div className="split">
          {tablePanel}
          {flamePanel}
        </div>
      );
    case 'sandwich':
      if (!state.fn) return <div className="state">Right-click a frame and choose “Sandwich view” to see its callers and callees.</div>;
      return (
        <Status state={sandwich} what="sandwich" idle={props.idle}>
          {(trees) => <Sandwich trees={trees} fn={state.fn} render={flameView} />}
        </Status>
      );
    default:
      return flamePanel;
  }
}
