import { setImmediate as nextTurn } from 'node:timers/promises';

/** Main-thread work one slice may take before it lets the event loop answer others (/healthz, queries). */
export const SLICE_MS = 10;

/** Items (sample rows, stacks) past which one synchronous step (a sort, an unpacking) is worth a turn of its own. */
const LARGE_STEP = 20_000;

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

  /**
   * Before one synchronous step over `items` items that cannot be cut (a sort): when it is large, the
   * event loop gets a turn first, so the step does not add up with whatever ran just before it.
   */
  beforeStep(items: number): Promise<void> | undefined {
    if (items < LARGE_STEP) return undefined;
    this.count = 0;
    return nextTurn().then(() => {
      this.since = performance.now();
    });
  }
}
