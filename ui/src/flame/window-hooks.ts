import type { FlameRenderer } from './renderer.js';

/** Renderers by test id, so the benchmark page and end-to-end tests can read draw timings and positions. */
export type KilnRenderers = Record<string, FlameRenderer>;

declare global {
  interface Window {
    __kilnRenderers?: KilnRenderers;
  }
}
