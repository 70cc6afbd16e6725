import { useCallback, useEffect, useRef, useState } from 'react';
import { parseState, serializeState, type ViewState } from './url-state.js';

export type UpdateState = (patch: Partial<ViewState>, mode?: 'push' | 'replace') => void;

/**
 * View state kept in the URL. Typing (search, filter, diff fields) replaces the history entry; every
 * other change pushes one, so Back undoes a zoom or a range change. Back/Forward re-read the URL.
 */
export function useUrlState(): [ViewState, UpdateState] {
  const [state, setState] = useState<ViewState>(() => parseState(window.location.search));
  const historyMode = useRef<'push' | 'replace'>('replace');

  const update = useCallback<UpdateState>((patch, mode = 'push') => {
    historyMode.current = mode;
    setState((s) => ({ ...s, ...patch }));
  }, []);

  useEffect(() => {
    const url = serializeState(state);
    if (url !== window.location.search) {
      const target = url || window.location.pathname;
      if (historyMode.current === 'push') window.history.pushState(null, '', target);
      else window.history.replaceState(null, '', target);
    }
    document.documentElement.dataset.theme = state.theme;
  }, [state]);

  useEffect(() => {
    const onPop = () => setState(parseState(window.location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  return [state, update];
}
