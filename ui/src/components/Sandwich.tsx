import type { ReactNode } from 'react';
import { rootTotal, type FlameTree } from '../model/flame-tree.js';

export type RenderFlame = (t: FlameTree, testId: string, inverted?: boolean) => ReactNode;

/** Both halves of /api/v1/sandwich, decoded and rooted at the function. */
export interface SandwichTrees {
  readonly callers: FlameTree;
  readonly callees: FlameTree;
}

/** One function's callers (drawn bottom-up, the function at the bottom) above its callees. */
export function Sandwich(props: { trees: SandwichTrees; fn: string; render: RenderFlame }) {
  const { trees, fn } = props;
  if (rootTotal(trees.callees) === 0) return <div className="state empty">“{fn}” does not appear in this selection.</div>;
  return (
    <div className="sandwich" data-testid="sandwich">
      <h3>Callers of {fn}</h3>
      {props.render(trees.callers, 'sandwich-callers', true)}
      <h3>Callees of {fn}</h3>
      {props.render(trees.callees, 'sandwich-callees')}
    </div>
  );
}
