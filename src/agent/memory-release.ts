import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { trimMalloc } from './malloc-tuning.js';

/**
 * Gives the memory of what the agent has dropped back to the kernel once per interval.
 *
 * Most of the agent's transient data are buffers (file reads, BPF map reads, string tables while a
 * symbol table is built): small JS objects holding large off-heap memory. V8 frees that memory only
 * when a GC finds the objects dead, and its trigger for off-heap growth is 64 MiB — on a loaded host
 * one agent showed 50 MiB of "external" memory that a full GC brought to 14 MiB (heap snapshot: 10.8
 * MiB of it live). So: when external memory has grown by `growthBytes` since the last collection,
 * collect (a full GC of a ≈ 25 MiB heap, ≈ 10 ms), then return malloc's free pages (malloc_trim).
 */
export function startMemoryRelease(everyMs: number, growthBytes = 8 << 20): void {
  const gc = exposeGc();
  let baseline = process.memoryUsage().external;
  setInterval(() => {
    const external = process.memoryUsage().external;
    // V8 updates the figure for freed buffers lazily, so the reading after a collection can be stale high.
    baseline = Math.min(baseline, external);
    if (gc && external - baseline > growthBytes) {
      gc();
      // The buffers' memory is released by V8's sweeper shortly after the collection.
      setTimeout(() => {
        baseline = process.memoryUsage().external;
        trimMalloc();
      }, 200).unref();
    } else {
      trimMalloc();
    }
  }, everyMs).unref();
}

/**
 * V8's gc function, which node shows only under --expose-gc; the agent is started as a plain `node`
 * command (DaemonSet, systemd), so the flag is set here and the function taken from a new context,
 * where V8 installs it. Undefined if this V8 does not allow it.
 */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
