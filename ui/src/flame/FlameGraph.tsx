import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { findPath, nodeName, nodePath, rootTotal, type FlameTree } from '../model/flame-tree.js';
import type { NameTest } from '../model/name-query.js';
import { searchMatches } from '../model/search.js';
import { formatPercent, formatValue } from '../model/units.js';
import { frameKind, packageOf, type FrameKind } from '../model/frame-kind.js';
import { FlameRenderer } from './renderer.js';
import type {} from './window-hooks.js';

export interface FlameGraphProps {
  tree: FlameTree;
  sampleUnit: string;
  /** Seconds covered by the data, to show CPU time as cores. */
  rangeSeconds: number;
  dark: boolean;
  /** The search as typed (shown with its share) and the names it matches; null when nothing is searched. */
  search: string;
  searchTest: NameTest | null;
  zoom: readonly string[];
  onZoom: (path: string[]) => void;
  /** Draw root at the bottom (callers half of the sandwich view). */
  inverted?: boolean;
  onFocus?: (name: string) => void;
  onHide?: (name: string) => void;
  /** Focus on / hide every frame of the package or binary of the named frame. */
  onFocusPackage?: (name: string) => void;
  onHidePackage?: (name: string) => void;
  onSandwich?: (name: string) => void;
  testId: string;
}

interface Menu {
  node: number;
  x: number;
  y: number;
}


export function FlameGraph(props: FlameGraphProps) {
  const { tree, sampleUnit, rangeSeconds, dark, search, searchTest, zoom, onZoom, inverted = false, testId } = props;
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const rendererRef = useRef<FlameRenderer | null>(null);
  const [hover, setHover] = useState<{ node: number; x: number; y: number } | null>(null);
  const [selected, setSelected] = useState(-1);
  const [menu, setMenu] = useState<Menu | null>(null);
  const matches = useMemo(() => (searchTest ? searchMatches(tree, searchTest) : null), [tree, searchTest]);
  const zoomNode = useMemo(() => Math.max(0, findPath(tree, zoom)), [tree, zoom]);
  const total = rootTotal(tree);

  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const r = new FlameRenderer(canvas);
    rendererRef.current = r;
    (window.__kilnRenderers ??= {})[testId] = r;
    return () => {
      r.dispose();
      if (window.__kilnRenderers?.[testId] === r) delete window.__kilnRenderers[testId];
    };
  }, [testId]);

  // New data: lay out, size and draw at the zoomed node without animation.
  useLayoutEffect(() => {
    const r = rendererRef.current;
    const wrap = wrapRef.current;
    if (!r || !wrap) return;
    // Marks let the benchmark page time layout + first draw of a new tree in a real browser.
    performance.mark(`kiln-${testId}-render-start`);
    r.setTree(tree, dark);
    r.setOptions({ inverted, highlight: matches?.matched ?? null, selected: -1 });
    r.resize(wrap.clientWidth);
    r.zoomTo(zoomNode, true);
    performance.measure(`kiln-${testId}-render`, `kiln-${testId}-render-start`);
    setSelected(-1);
    // Only a new tree re-lays out; option changes just redraw (effect below).
  }, [tree]);

  useEffect(() => {
    const r = rendererRef.current;
    if (!r) return;
    r.setOptions({ dark, inverted, highlight: matches?.matched ?? null, selected });
    r.draw();
  }, [dark, inverted, matches, selected]);

  useEffect(() => {
    rendererRef.current?.zoomTo(zoomNode);
  }, [zoomNode]);

  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const ro = new ResizeObserver(() => {
      const r = rendererRef.current;
      if (!r) return;
      r.resize(wrap.clientWidth);
      r.draw();
    });
    ro.observe(wrap);
    return () => ro.disconnect();
  }, []);

  const pointer = (e: React.MouseEvent) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };

  const zoomInto = (n: number) => onZoom(n <= 0 ? [] : nodePath(tree, n));

  const onKey = (e: React.KeyboardEvent) => {
    const cur = selected >= 0 ? selected : zoomNode;
    let next = cur;
    const toParent = inverted ? 'ArrowDown' : 'ArrowUp';
    const toChild = inverted ? 'ArrowUp' : 'ArrowDown';
    if (e.key === toParent) next = tree.parent[cur] >= 0 ? tree.parent[cur] : cur;
    else if (e.key === toChild) {
      let best = -1;
      for (let c = tree.childStart[cur]; c < tree.childEnd[cur]; c++) if (best < 0 || tree.total[c] > tree.total[best]) best = c;
      if (best >= 0) next = best;
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const d = tree.depth[cur];
      const n = cur + (e.key === 'ArrowLeft' ? -1 : 1);
      if (n >= tree.levelStart[d] && n < tree.levelStart[d + 1]) next = n;
    } else if (e.key === 'Enter') {
      zoomInto(cur);
    } else if (e.key === 'Escape') {
      setMenu(null);
      onZoom([]);
    } else return;
    e.preventDefault();
    setSelected(next);
    const rect = rendererRef.current?.rectOf(next);
    if (rect) setHover({ node: next, x: rect.x + Math.min(rect.w, 200) / 2, y: rect.y + 10 });
  };

  const hovered = hover && hover.node >= 0 && hover.node < tree.count ? hover.node : -1;
  const menuName = menu ? nodeName(tree, menu.node) : '';

  return (
    <div className="flame" data-testid={testId}>
      <div className="flame-status">
        {zoom.length > 0 && (
          <span data-testid={`${testId}-zoomed`}>
            Zoomed on <b>{zoom[zoom.length - 1]}</b>{' '}
            <button className="link" onClick={() => onZoom([])}>
              reset zoom
            </button>
          </span>
        )}
        {matches && (
          <span data-testid={`${testId}-search-share`} data-value={matches.value}>
            “{search}” matches {formatPercent(matches.value, total)} ({formatValue(matches.value, sampleUnit, rangeSeconds)}) of the graph shown
          </span>
        )}
      </div>
      <div className="flame-canvas-wrap" ref={wrapRef}>
        <canvas
          ref={canvasRef}
          tabIndex={0}
          aria-label="flame graph: arrow keys move, Enter zooms, Escape resets"
          onMouseMove={(e) => {
            const p = pointer(e);
            const node = rendererRef.current?.nodeAt(p.x, p.y) ?? -1;
            setHover(node >= 0 ? { node, ...p } : null);
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            setMenu(null);
            const p = pointer(e);
            const node = rendererRef.current?.nodeAt(p.x, p.y) ?? -1;
            if (node >= 0) {
              setSelected(node);
              zoomInto(node);
            }
          }}
          onContextMenu={(e) => {
            const p = pointer(e);
            const node = rendererRef.current?.nodeAt(p.x, p.y) ?? -1;
            if (node > 0) {
              e.preventDefault();
              setMenu({ node, ...p });
            }
          }}
          onKeyDown={onKey}
        />
        {hovered >= 0 && !menu && (
          <Tooltip tree={tree} node={hovered} x={hover!.x} y={hover!.y} sampleUnit={sampleUnit} rangeSeconds={rangeSeconds} testId={testId} />
        )}
        {menu && (
          <div className="menu" style={{ left: menu.x, top: menu.y }} data-testid={`${testId}-menu`} role="menu">
            <div className="menu-title">{menuName}</div>
            <button role="menuitem" onClick={() => (zoomInto(menu.node), setMenu(null))}>Zoom here</button>
            {props.onFocus && <button role="menuitem" onClick={() => (props.onFocus!(menuName), setMenu(null))}>Focus on this function</button>}
            {props.onHide && <button role="menuitem" onClick={() => (props.onHide!(menuName), setMenu(null))}>Hide this function</button>}
            {props.onFocusPackage && (
              <button role="menuitem" onClick={() => (props.onFocusPackage!(menuName), setMenu(null))}>
                Focus on package {packageOf(menuName)}
              </button>
            )}
            {props.onHidePackage && (
              <button role="menuitem" onClick={() => (props.onHidePackage!(menuName), setMenu(null))}>
                Hide package {packageOf(menuName)}
              </button>
            )}
            {props.onSandwich && <button role="menuitem" onClick={() => (props.onSandwich!(menuName), setMenu(null))}>Sandwich view</button>}
            <button role="menuitem" onClick={() => (void navigator.clipboard?.writeText(menuName), setMenu(null))}>Copy name</button>
          </div>
        )}
      </div>
    </div>
  );
}

const KIND_WORDS: Record<FrameKind, string> = { user: 'user code', kernel: 'kernel', jit: 'JIT / interpreted', root: '' };

function Tooltip(props: { tree: FlameTree; node: number; x: number; y: number; sampleUnit: string; rangeSeconds: number; testId: string }) {
  const { tree, node, sampleUnit, rangeSeconds } = props;
  const total = rootTotal(tree);
  const d = tree.diff;
  const fmt = (v: number) => formatValue(v, sampleUnit, rangeSeconds);
  const style = { left: Math.min(props.x + 14, window.innerWidth - 380), top: props.y + 18 };
  return (
    <div
      className="tooltip"
      style={style}
      data-testid={`${props.testId}-tooltip`}
      data-name={nodeName(tree, node)}
      data-total={tree.total[node]}
      data-self={tree.self[node]}
    >
      <div className="tooltip-name">{nodeName(tree, node)}</div>
      {node > 0 && (
        <div className="tooltip-kind" data-testid="tooltip-kind">
          {KIND_WORDS[frameKind(nodeName(tree, node), tree.depth[node])]} · {packageOf(nodeName(tree, node))}
        </div>
      )}
      {d ? (
        <table>
          <tbody>
            <tr>
              <th />
              <th>baseline</th>
              <th>comparison</th>
            </tr>
            <tr>
              <td>total</td>
              <td>{formatPercent(d.leftTotal[node], d.leftTicks)} · {fmt(d.leftTotal[node])}</td>
              <td>{formatPercent(d.rightTotal[node], d.rightTicks)} · {fmt(d.rightTotal[node])}</td>
            </tr>
            <tr>
              <td>self</td>
              <td>{formatPercent(d.leftSelf[node], d.leftTicks)} · {fmt(d.leftSelf[node])}</td>
              <td>{formatPercent(d.rightSelf[node], d.rightTicks)} · {fmt(d.rightSelf[node])}</td>
            </tr>
          </tbody>
        </table>
      ) : (
        <table>
          <tbody>
            <tr>
              <td>total</td>
              <td data-testid="tooltip-total">{fmt(tree.total[node])}</td>
              <td>{formatPercent(tree.total[node], total)}</td>
            </tr>
            <tr>
              <td>self</td>
              <td data-testid="tooltip-self">{fmt(tree.self[node])}</td>
              <td>{formatPercent(tree.self[node], total)}</td>
            </tr>
          </tbody>
        </table>
      )}
    </div>
  );
}
