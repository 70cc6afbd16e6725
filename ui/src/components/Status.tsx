import type { ReactNode } from 'react';
import type { Async } from './useAsync.js';

/** Loading, error and empty states as readable messages: a view never renders as a blank area. */
export function Status<T>(props: {
  state: Async<T>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  /** Why nothing is loading (an invalid selector, no profile type yet). */
  idle?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  const { state, what } = props;
  if (state.status === 'idle')
    return (
      <div className="state" data-testid="idle">
        {props.idle ?? `Pick a profile type to see the ${what}.`}
      </div>
    );
  if (state.status === 'loading') return <div className="state loading" data-testid="loading">Loading the {what}…</div>;
  if (state.status === 'error')
    return (
      <div className="state error" role="alert" data-testid="error">
        Could not load the {what}: {state.error}
      </div>
    );
  if (props.isEmpty?.(state.data)) return <div className="state empty" data-testid="empty">{props.empty}</div>;
  return <>{props.children(state.data)}</>;
}
