import { useMemo, type ReactNode } from 'react';
import { rootTotal, type FlameTree } from '../model/flame-tree.js';
import { sandwich } from '../model/transforms.js';

export type RenderFlame = (t: FlameTree, testId: string, inverted?: boolean) => ReactNode;

/** One function's callers (drawn bottom-up, the function at the bottom) above its callees. */
export function Sandwich(props: { tree: FlameTree; fn: string; render: RenderFlame }) {
  const parts = useMemo(() => (props.fn ? sandwich(props.tree, props.fn) : null), [props.tree, props.fn]);
  if (!parts) return <div className="state">Right-click a frame and choose “Sandwich view” to see its callers and callees.</div>;
  if (rootTotal(parts.callees) === 0) return <div className="state empty">“{props.fn}” does not appear in this selection.</div>;
  return (
    <div className="sandwich" data-testid="sandwich">
      <h3>Callers of {props.fn}</h3>
      {props.render(parts.callers, 'sandwich-callers', true)}
      <h3>Callees of {props.fn}</h3>
      {props.render(parts.callees, 'sandwich-callees')}
    </div>
  );
}
