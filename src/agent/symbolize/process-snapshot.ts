import type { BinaryInfo } from './binary.js';
import type { PerfMap } from './perf-map.js';
import type { CodeMapping } from './proc-maps.js';

/**
 * What the symbolizer remembers of one process: its code mappings, the binaries behind them and its
 * perf map, taken when the pid is first seen so samples read after the process exited still resolve.
 */
export class ProcessSnapshot {
  mappings: readonly CodeMapping[] = [];
  /**
   * Binary headers of the current mappings, by mapping object: looked up for every native frame, so no
   * key string is built per frame. The symbolizer's binary cache shares them across processes.
   */
  private byMapping = new Map<CodeMapping, BinaryInfo>();
  /**
   * Addresses that fell in no mapping of freshly read maps (a walk's garbage last frame, typically): they
   * do not make the maps be read again every interval. Forgotten when the layout changes.
   */
  private readonly unmappedAddresses = new Set<number>();
  mapsReadAt = 0;
  perfMapReadAt = 0;
  /** Changes when the code mappings change place (dlopen, new JIT regions): remembered frames may be stale. */
  layout = 0;
  /** How many intervals the agent has observed this process in since the snapshot (frames without a name may be retried at each). */
  intervals = 0;
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

  /** The perf map's version (0 before it is first opened), see PerfMap.version. */
  get perfMapVersion(): number {
    return this.map?.version ?? 0;
  }

  /** Whether the perf map (if ever opened) changed on disk since it was last read. */
  perfMapChanged(): boolean {
    return this.map?.changedOnDisk() ?? false;
  }

  binaryOf(m: CodeMapping): BinaryInfo | undefined {
    return this.byMapping.get(m);
  }

  /** New mappings (a fresh read of maps) with their binaries. */
  setMappings(mappings: readonly CodeMapping[], binaries: Map<CodeMapping, BinaryInfo>): void {
    if (!sameLayout(this.mappings, mappings)) {
      this.unmappedAddresses.clear();
      this.layout++;
    }
    this.mappings = mappings;
    this.byMapping = binaries;
  }

  unmapped(address: number): boolean {
    return this.unmappedAddresses.has(address);
  }

  noteUnmapped(address: number): void {
    if (this.unmappedAddresses.size >= MAX_UNMAPPED) this.unmappedAddresses.clear();
    this.unmappedAddresses.add(address);
  }
}

/** Bound on remembered unmapped addresses per process (each a garbage frame seen once or more). */
const MAX_UNMAPPED = 4096;

function sameLayout(a: readonly CodeMapping[], b: readonly CodeMapping[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.start !== b[i]!.start || a[i]!.end !== b[i]!.end) return false;
  return true;
}
