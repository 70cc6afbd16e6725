import type { FlameNode } from '../query/tree.js';

/**
 * A flame graph as a standalone SVG (root on top, as Kiln's UI draws it), for reports: no script, so
 * it shows in a mail client or a wiki the way it shows in a browser. Each frame carries a <title>, the
 * hover text browsers show: name, value and share. Frames narrower than a pixel are left out (their
 * value stays in their parent's width).
 */
export interface SvgOptions {
  readonly width?: number;
  /** name + value → the text shown on hover (e.g. "json.decode — 0.42 cores, 12.1 %"). */
  readonly describe?: (node: FlameNode, share: number) => string;
}

const ROW = 18;
const FONT = 11;
/** Average glyph width of an 11 px sans-serif, for clipping labels to their frame. */
const CHAR = 6.2;

export function flameSvg(root: FlameNode, opts: SvgOptions = {}): string {
  const width = opts.width ?? 1200;
  const describe = opts.describe ?? ((n, share) => `${n.name} — ${(share * 100).toFixed(2)} %`);
  const scale = root.total > 0 ? width / root.total : 0;
  const rects: string[] = [];
  let depthMax = 0;
  const draw = (n: FlameNode, x: number, depth: number): void => {
    const w = n.total * scale;
    if (w < 1) return;
    depthMax = Math.max(depthMax, depth);
    const y = depth * ROW;
    const label = fit(n.name, w - 6);
    rects.push(
      `<g><title>${esc(describe(n, root.total > 0 ? n.total / root.total : 0))}</title>` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW - 1}" rx="2" fill="${color(n.name, depth)}"/>` +
        (label ? `<text x="${(x + 3).toFixed(1)}" y="${y + ROW - 5}">${esc(label)}</text>` : '') +
        `</g>`,
    );
    let cx = x;
    for (const c of n.children) {
      draw(c, cx, depth + 1);
      cx += c.total * scale;
    }
  };
  draw(root, 0, 0);
  const height = (depthMax + 1) * ROW;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="flame" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, sans-serif" font-size="${FONT}" role="img" aria-label="flame graph">` +
    rects.join('') +
    `</svg>`
  );
}

function fit(name: string, px: number): string {
  const chars = Math.floor(px / CHAR);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 1)}…`;
}

/** Warm colours as in flamegraph.pl, stable per function name; the root grey. */
function color(name: string, depth: number): string {
  if (depth === 0) return 'hsl(220, 8%, 78%)';
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  const f = (h >>> 0) / 0xffffffff;
  return `hsl(${(10 + 45 * f).toFixed(0)}, 80%, ${(60 + 12 * f).toFixed(0)}%)`;
}

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
