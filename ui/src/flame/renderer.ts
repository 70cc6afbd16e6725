import { levelCount, nodeName, type FlameTree } from '../model/flame-tree.js';
import { diffColor, frameColor } from '../model/palette.js';

/**
 * Draws a FlameTree as an icicle on a canvas (root on top, or at the bottom when `inverted`, for the
 * callers half of the sandwich view). The visible window is a value range [x0, x1): zooming into a node
 * sets it to the node's range, so its ancestors naturally span the full width above it.
 * Per level, nodes are sorted by x: a binary search finds the first visible one and frames narrower than
 * a fraction of a pixel are skipped, which keeps 50 000-node trees well inside a frame budget.
 */
export const ROW_HEIGHT = 18;
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
// Frames narrower than this are not drawn: their parent already covers the pixel, and skipping them is
// what keeps a 50 000-node tree inside a frame budget.
const MIN_VISIBLE_PX = 0.8;
const TEXT_PAD = 4;
const ZOOM_MS = 220;

export interface DrawOptions {
  dark: boolean;
  inverted: boolean;
  /** Search matches (1 = matched); others are drawn faded. */
  highlight: Uint8Array | null;
  selected: number;
}

export interface FramePerf {
  /** Milliseconds spent in each draw() call, most recent last (bounded). */
  draws: number[];
}

export class FlameRenderer {
  private tree: FlameTree | null = null;
  /** Colour per node, computed on first draw of that node (most of a big tree is never wide enough to draw). */
  private colors: (string | undefined)[] = [];
  /** Text jobs of the current draw, kept between draws to avoid allocating per frame. */
  private textX = new Float64Array(0);
  private textY = new Float64Array(0);
  private textNode = new Int32Array(0);
  private textChars = new Int32Array(0);
  private x0 = 0;
  private x1 = 1;
  private charWidth = 7;
  private cssWidth = 0;
  private anim = 0;
  private animating = false;
  private opts: DrawOptions = { dark: false, inverted: false, highlight: null, selected: -1 };
  readonly perf: FramePerf = { draws: [] };

  constructor(private readonly canvas: HTMLCanvasElement) {}

  setTree(tree: FlameTree, dark: boolean): void {
    this.tree = tree;
    this.opts.dark = dark;
    this.colors = new Array(tree.count);
    this.nameColors = new Map();
  }

  /** The tree being drawn (end-to-end tests compare it with the server's answer). */
  currentTree(): FlameTree | null {
    return this.tree;
  }

  setOptions(o: Partial<DrawOptions>): void {
    const themeChanged = o.dark !== undefined && o.dark !== this.opts.dark;
    this.opts = { ...this.opts, ...o };
    if (themeChanged && this.tree) {
      this.colors = new Array(this.tree.count);
      this.nameColors = new Map();
    }
  }

  /** Height the canvas needs in CSS pixels. */
  height(): number {
    return this.tree ? Math.max(1, levelCount(this.tree)) * ROW_HEIGHT : ROW_HEIGHT;
  }

  /** Shows node `n` across the full width; animated unless `instant`. Calls onDone once the view has landed. */
  zoomTo(n: number, instant = false, onDone?: () => void): void {
    const t = this.tree;
    if (!t || t.count === 0) return;
    const node = n >= 0 && n < t.count ? n : 0;
    const tx0 = t.x[node];
    const tx1 = t.x[node] + Math.max(t.total[node], 1e-9);
    cancelAnimationFrame(this.anim);
    this.animating = !instant;
    if (instant) {
      this.x0 = tx0;
      this.x1 = tx1;
      this.draw();
      onDone?.();
      return;
    }
    const sx0 = this.x0;
    const sx1 = this.x1;
    const begin = performance.now();
    const step = (now: number) => {
      const k = Math.min(1, (now - begin) / ZOOM_MS);
      const e = 1 - (1 - k) * (1 - k) * (1 - k); // ease-out: fast start, gentle landing
      this.x0 = sx0 + (tx0 - sx0) * e;
      this.x1 = sx1 + (tx1 - sx1) * e;
      this.draw();
      if (k < 1) this.anim = requestAnimationFrame(step);
      else {
        this.animating = false;
        onDone?.();
      }
    };
    this.anim = requestAnimationFrame(step);
  }

  /** True while a zoom transition is running (tests and the benchmark wait for it to land). */
  isAnimating(): boolean {
    return this.animating;
  }

  /** Sizes the backing store to the element's CSS size and the screen's pixel ratio. */
  resize(cssWidth: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = cssWidth;
    const h = this.height();
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.round(cssWidth * dpr);
    this.canvas.height = Math.round(h * dpr);
    const ctx = this.canvas.getContext('2d');
    if (ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.font = FONT;
      this.charWidth = ctx.measureText('MMMMMMMMMM').width / 10;
    }
  }

  draw(): void {
    const began = performance.now();
    const ctx = this.canvas.getContext('2d');
    const t = this.tree;
    if (!ctx || !t) return;
    const width = this.cssWidth;
    const levels = levelCount(t);
    ctx.clearRect(0, 0, width, levels * ROW_HEIGHT);
    const scale = width / (this.x1 - this.x0);
    const { highlight, selected, inverted, dark } = this.opts;
    const faded = dark ? '#3a3d44' : '#e3e5e8';
    const x0 = this.x0;
    const x1 = this.x1;
    const minTextPx = this.charWidth * 3 + TEXT_PAD;
    let texts = 0;
    let lastFill = '';
    let selRect: [number, number, number] | null = null;
    // Pass 1: rectangles (fill style set only when it changes); text positions are queued for pass 2 so
    // the fill style does not flip between box and text colour for every frame.
    for (let d = 0; d < levels; d++) {
      const y = (inverted ? levels - 1 - d : d) * ROW_HEIGHT;
      const lo = t.levelStart[d];
      const hi = t.levelStart[d + 1];
      for (let i = firstVisible(t, lo, hi, x0); i < hi; i++) {
        const nx = t.x[i];
        if (nx >= x1) break;
        const w = t.total[i] * scale;
        if (w < MIN_VISIBLE_PX) continue;
        const px = (nx - x0) * scale;
        const left = px > -1 ? px : -1;
        const right = px + w < width + 1 ? px + w : width + 1;
        const bw = right - left;
        const fill = highlight && !highlight[i] ? faded : (this.colors[i] ?? this.colorOf(i));
        if (fill !== lastFill) {
          ctx.fillStyle = fill;
          lastFill = fill;
        }
        ctx.fillRect(left, y, bw > 2 ? bw - 0.5 : bw, ROW_HEIGHT - 1);
        if (bw > minTextPx) {
          if (texts === this.textX.length) this.growText();
          this.textX[texts] = left > 0 ? left : 0;
          this.textY[texts] = y;
          this.textNode[texts] = i;
          this.textChars[texts] = Math.floor((bw - TEXT_PAD * 2) / this.charWidth);
          texts++;
        }
        if (i === selected) selRect = [left, y, bw];
      }
    }
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const textColor = dark ? '#f1f1f1' : '#111';
    const fadedText = dark ? '#8a8d94' : '#777';
    lastFill = '';
    for (let k = 0; k < texts; k++) {
      const i = this.textNode[k];
      const fill = highlight && !highlight[i] ? fadedText : textColor;
      if (fill !== lastFill) {
        ctx.fillStyle = fill;
        lastFill = fill;
      }
      const name = nodeName(t, i);
      const chars = this.textChars[k];
      ctx.fillText(name.length <= chars ? name : name.slice(0, Math.max(1, chars - 1)) + '…', this.textX[k] + TEXT_PAD, this.textY[k] + ROW_HEIGHT / 2);
    }
    if (selRect) {
      ctx.strokeStyle = dark ? '#fff' : '#000';
      ctx.lineWidth = 2;
      ctx.strokeRect(selRect[0] + 1, selRect[1] + 1, Math.max(selRect[2] - 2, 1), ROW_HEIGHT - 3);
    }
    this.perf.draws.push(performance.now() - began);
    if (this.perf.draws.length > 600) this.perf.draws.splice(0, 300);
  }

  private growText(): void {
    const n = Math.max(256, this.textX.length * 2);
    const grow = <A extends Float64Array | Int32Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.textX = grow(this.textX, (k) => new Float64Array(k));
    this.textY = grow(this.textY, (k) => new Float64Array(k));
    this.textNode = grow(this.textNode, (k) => new Int32Array(k));
    this.textChars = grow(this.textChars, (k) => new Int32Array(k));
  }

  private nameColors = new Map<number, string>();

  /** Colour of node i: by relative change for a diff, else by name (one palette lookup per distinct name). */
  private colorOf(i: number): string {
    const t = this.tree!;
    const dark = this.opts.dark;
    let c: string | undefined;
    const d = t.diff;
    if (d) {
      const l = d.leftTicks > 0 ? d.leftTotal[i] / d.leftTicks : 0;
      const r = d.rightTicks > 0 ? d.rightTotal[i] / d.rightTicks : 0;
      c = diffColor(l, r, dark);
    } else if (t.depth[i] === 0) {
      c = frameColor(nodeName(t, i), 0, dark);
    } else {
      c = this.nameColors.get(t.nameIdx[i]);
      if (c === undefined) this.nameColors.set(t.nameIdx[i], (c = frameColor(nodeName(t, i), 1, dark)));
    }
    this.colors[i] = c;
    return c;
  }

  /** The node under a point in CSS pixels, or -1. */
  nodeAt(px: number, py: number): number {
    const t = this.tree;
    if (!t || t.count === 0) return -1;
    const levels = levelCount(t);
    const row = Math.floor(py / ROW_HEIGHT);
    const d = this.opts.inverted ? levels - 1 - row : row;
    if (d < 0 || d >= levels) return -1;
    const v = this.x0 + (px / this.cssWidth) * (this.x1 - this.x0);
    const lo = t.levelStart[d];
    const hi = t.levelStart[d + 1];
    const i = firstVisible(t, lo, hi, v);
    return i < hi && t.x[i] <= v && v < t.x[i] + t.total[i] ? i : -1;
  }

  /** Screen rectangle of node n (CSS pixels), for placing the tooltip when navigating by keyboard. */
  rectOf(n: number): { x: number; y: number; w: number } {
    const t = this.tree;
    if (!t) return { x: 0, y: 0, w: 0 };
    const scale = this.cssWidth / (this.x1 - this.x0);
    const levels = levelCount(t);
    const d = t.depth[n];
    return {
      x: Math.max(0, (t.x[n] - this.x0) * scale),
      y: (this.opts.inverted ? levels - 1 - d : d) * ROW_HEIGHT,
      w: t.total[n] * scale,
    };
  }

  dispose(): void {
    cancelAnimationFrame(this.anim);
    this.animating = false;
  }
}

/** First node in [lo, hi) whose right edge is past v (levels are sorted by x and do not overlap). */
function firstVisible(t: FlameTree, lo: number, hi: number, v: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >> 1;
    if (t.x[m] + t.total[m] <= v) a = m + 1;
    else b = m;
  }
  return a;
}
