import { setImmediate as nextTurn } from 'node:timers/promises';

/** Main-thread work one slice may take before it lets the event loop answer others (/healthz, queries). */
export const SLICE_MS = 10;

/**
 * Cuts one long piece of main-thread work (the symbols and rows of a 100 000-stack write) into
 * slices: `pause()` is called every few items and yields to the event loop once `SLICE_MS` have
 * passed since the last yield. A write's outcome does not change, only when other requests get a turn.
 * Checking the clock costs ~50 ns, so callers check it every `every` items, not per item.
 */
export class EventLoopSlices {
  private since = performance.now();
  private count = 0;

  constructor(private readonly every = 256) {}

  /**
   * After `items` more items: undefined inside a slice (no await, no microtask), else a promise that
   * resolves after the event loop has had its turn.
   */
  pause(items = 1): Promise<void> | undefined {
    this.count += items;
    if (this.count < this.every) return undefined;
    this.count = 0;
    if (performance.now() - this.since < SLICE_MS) return undefined;
    return nextTurn().then(() => {
      this.since = performance.now();
    });
  }
}
