import { useEffect, useState } from 'react';

export type Async<T> = { status: 'idle' } | { status: 'loading' } | { status: 'error'; error: string } | { status: 'done'; data: T };

/**
 * Runs `load` whenever `key` changes; a newer call aborts the older one so a slow answer for an old
 * range can never overwrite the current one. `key === null` means "nothing to load yet".
 */
export function useAsync<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Async<T> {
  const [state, setState] = useState<Async<T>>({ status: 'idle' });
  useEffect(() => {
    if (key === null) {
      setState({ status: 'idle' });
      return;
    }
    const ctl = new AbortController();
    setState({ status: 'loading' });
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ status: 'done', data }),
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setState({ status: 'error', error: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => ctl.abort();
    // `load` is a new closure on every render; `key` alone says which request it is.
  }, [key]);
  return state;
}
