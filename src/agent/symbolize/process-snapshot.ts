import type { BinaryInfo } from './binary.js';
import type { PerfMap } from './perf-map.js';
import type { CodeMapping } from './proc-maps.js';

/**
 * What the symbolizer remembers of one process: its code mappings, the binaries behind them and its
 * perf map, taken when the pid is first seen so samples read after the process exited still resolve.
 */
export class ProcessSnapshot {
  mappings: readonly CodeMapping[] = [];
  /** Binary headers by mapping identity (`fileId path`), shared via the symbolizer's binary cache. */
  private readonly byMapping = new Map<string, BinaryInfo>();
  mapsReadAt = 0;
  perfMapReadAt = 0;
  /** When the agent last saw it in samples (or a scan found it), for evicting exited processes. */
  seenAt = Date.now();

  private map: PerfMap | undefined;

  constructor(
    readonly pid: number,
    /** `/proc/PID/root`: the process's own filesystem view (its container's, if any). */
    readonly rootPrefix: string,
    /** Start time from /proc/PID/stat, to tell a reused pid apart; undefined when already gone. */
    readonly startTime: string | undefined,
    /**
     * Opens the process's perf map. Called on the first JIT-looking frame, not when the pid is first
     * seen: naming the map costs a read of /proc/PID/status (the pid in its own namespace), and the
     * short-lived processes of a busy host never run JIT code.
     */
    private readonly openPerfMap: () => PerfMap,
  ) {}

  get perfMap(): PerfMap {
    return (this.map ??= this.openPerfMap());
  }

  binaryOf(m: CodeMapping): BinaryInfo | undefined {
    return this.byMapping.get(mappingKey(m));
  }

  setBinary(m: CodeMapping, b: BinaryInfo): void {
    this.byMapping.set(mappingKey(m), b);
  }
}

function mappingKey(m: CodeMapping): string {
  return `${m.fileId} ${m.path}`;
}
