/**
 * UI flame graph benchmark in real Chromium: a 50 000-node flame graph served to the built UI (the
 * querier API is answered in-page by playwright, so only the browser is measured), then
 *   - decode of the querier JSON, and layout + first draw of the tree (performance marks in the app);
 *   - full redraws of the whole tree;
 *   - animated zooms: per-frame draw time and the frame rate the page actually reached.
 * Run: npx tsx bench/ui-flamegraph.ts
 */
import type {} from '../ui/src/flame/window-hooks.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { toFlameGraph } from '../src/formats/flamebearer.js';
import type { FlameNode } from '../src/query/tree.js';
import { ensureUiBuilt, launchChromium } from '../test/ui/browser.js';

const NODES = 50_000;
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/** A deterministic random tree of exactly NODES nodes, deep and bushy like a real service's profile. */
function syntheticTree(): FlameNode {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const root: FlameNode = { name: 'total', self: 0, total: 0, children: [] };
  const all: { node: FlameNode; depth: number }[] = [{ node: root, depth: 0 }];
  const pkgs = ['net/http', 'encoding/json', 'runtime', 'github.com/acme/shop/checkout', 'database/sql', 'vendor/x/crypto'];
  for (let i = 1; i < NODES; i++) {
    // Prefer recent nodes as parents so stacks get deep (up to ~60 frames) rather than flat.
    const pick = all[Math.max(0, all.length - 1 - Math.floor(rnd() ** 3 * all.length))];
    const parent = pick.depth >= 60 ? all[Math.floor(rnd() * all.length)] : pick;
    const kind = rnd();
    const name =
      kind < 0.1 ? `tcp_sendmsg_${i}_[k]` : kind < 0.2 ? `LazyCompile:*handler${i} app.js:${i}` : `${pkgs[i % pkgs.length]}.fn${i}`;
    const node: FlameNode = { name, self: 1 + Math.floor(rnd() * 1000), total: 0, children: [] };
    parent.node.children.push(node);
    all.push({ node, depth: parent.depth + 1 });
  }
  const sum = (n: FlameNode): number => (n.total = n.self + n.children.reduce((s, c) => s + sum(c), 0));
  sum(root);
  return root;
}

async function main(): Promise<void> {
  const dist = ensureUiBuilt();
  const tree = syntheticTree();
  const flamegraph = toFlameGraph(tree);
  const levels = flamegraph.levels.length;
  const body = JSON.stringify({ flamegraph: { ...flamegraph, levels: flamegraph.levels.map((l) => ({ values: l.values.map(String) })) } });
  const answers: Record<string, unknown> = {
    ProfileTypes: { profileTypes: [{ ID: CPU }] },
    LabelNames: { names: ['service_name'] },
    LabelValues: { names: ['bench'] },
    SelectSeries: { series: [] },
  };
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.route('http://kiln.bench/**', async (route) => {
      const u = new URL(route.request().url());
      const method = u.pathname.split('/').pop() ?? '';
      if (u.pathname.startsWith('/querier.v1.QuerierService/')) {
        return route.fulfill({ contentType: 'application/json', body: method === 'SelectMergeStacktraces' ? body : JSON.stringify(answers[method] ?? {}) });
      }
      const file = path.join(dist, u.pathname === '/' ? 'index.html' : u.pathname);
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'text/html';
      return route.fulfill({ body: readFileSync(file), contentType: type });
    });
    // tsx keeps function names with a `__name` helper that does not exist inside the page.
    await page.addInitScript('window.__name = (f) => f');
    await page.goto(`http://kiln.bench/?type=${encodeURIComponent(CPU)}&query=${encodeURIComponent('{service_name="bench"}')}`);
    await page.waitForFunction(() => (window.__kilnRenderers?.flame?.perf.draws.length ?? 0) > 0, undefined, { timeout: 60_000 });
    const first = await page.evaluate(() => ({
      decode: performance.getEntriesByName('kiln-decode').map((e) => e.duration),
      render: performance.getEntriesByName('kiln-flame-render').map((e) => e.duration),
    }));
    // Re-render of the same tree in the warmed-up page: colours recomputed, canvas resized, drawn.
    const rerender = await page.evaluate(() => {
      const r = window.__kilnRenderers!.flame as unknown as {
        tree: unknown;
        setTree(t: unknown, dark: boolean): void;
        resize(w: number): void;
        draw(): void;
      };
      const canvas = document.querySelector('[data-testid="flame"] canvas') as HTMLCanvasElement;
      const times: { setTree: number; resize: number; draw: number }[] = [];
      for (let i = 0; i < 10; i++) {
        const a = performance.now();
        r.setTree(r.tree, false);
        const b = performance.now();
        r.resize(canvas.clientWidth);
        const c = performance.now();
        r.draw();
        times.push({ setTree: b - a, resize: c - b, draw: performance.now() - c });
      }
      return times;
    });
    const redraw = await page.evaluate(() => {
      const r = window.__kilnRenderers!.flame;
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        r.draw();
        times.push(performance.now() - t);
      }
      return times;
    });
    // Zoom into nodes at several depths and back out, each an animated transition; record every frame.
    const zoom = await page.evaluate(async () => {
      const r = window.__kilnRenderers!.flame;
      const canvas = document.querySelector('[data-testid="flame"] canvas') as HTMLCanvasElement;
      const w = canvas.clientWidth;
      const frameTimes: number[] = [];
      const intervals: number[] = [];
      let animMs = 0;
      let frames = 0;
      for (const [fx, depth] of [[0.3, 3], [0.5, 6], [0.2, 10], [0.6, 2], [0.4, 8]] as const) {
        for (const target of ['in', 'out'] as const) {
          const node = target === 'in' ? r.nodeAt(w * fx, depth * 18 + 9) : 0;
          const before = r.perf.draws.length;
          const t0 = performance.now();
          // A second rAF loop records when the browser actually presented frames during the animation.
          let last = 0;
          let watching = true;
          const watch = (ts: number) => {
            if (last) intervals.push(ts - last);
            last = ts;
            if (watching) requestAnimationFrame(watch);
          };
          requestAnimationFrame(watch);
          await new Promise<void>((done) => r.zoomTo(Math.max(node, 0), false, done));
          watching = false;
          animMs += performance.now() - t0;
          const drawn = r.perf.draws.slice(before);
          frames += drawn.length;
          frameTimes.push(...drawn);
        }
      }
      return { frameTimes, animMs, frames, intervals };
    });
    const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
    const pct = (a: number[], p: number) => sorted(a)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];
    const fmt = (v: number) => v.toFixed(1);
    console.log(`UI flame graph, ${NODES} nodes, ${levels} levels, Chromium headless 1600×1000`);
    console.log(`  decode querier JSON           ${first.decode.map(fmt).join(', ')} ms`);
    console.log(`  layout + first draw           ${first.render.map(fmt).join(', ')} ms`);
    const total = rerender.map((x) => x.setTree + x.resize + x.draw);
    console.log(
      `  re-render (new tree, warm)    median ${fmt(pct(total, 50))} ms, max ${fmt(Math.max(...total))} ms ` +
        `(draw incl. colours median ${fmt(pct(rerender.map((x) => x.draw), 50))} ms, 10 runs)`,
    );
    console.log(`  full redraw                   median ${fmt(pct(redraw, 50))} ms, p95 ${fmt(pct(redraw, 95))} ms, max ${fmt(Math.max(...redraw))} ms (30 runs)`);
    console.log(
      `  zoom animation frames         median ${fmt(pct(zoom.frameTimes, 50))} ms, p95 ${fmt(pct(zoom.frameTimes, 95))} ms, max ${fmt(Math.max(...zoom.frameTimes))} ms per frame`,
    );
    const onTime = zoom.intervals.filter((x) => x < 20).length / zoom.intervals.length;
    console.log(
      `  zoom frame intervals          median ${fmt(pct(zoom.intervals, 50))} ms (${fmt(1000 / pct(zoom.intervals, 50))} fps), ` +
        `${(onTime * 100).toFixed(0)}% of ${zoom.intervals.length} frames within 20 ms, ${zoom.frames} frames drawn in 10 zooms`,
    );
  } finally {
    await browser.close();
  }
}

await main();
