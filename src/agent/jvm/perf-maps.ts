import { LruCache } from '../lru.js';
import { readStartTime } from '../symbolize/proc-maps.js';
import { AttachError, jcmd, type AttachOptions } from './attach.js';
import { isHotSpot, mapsHotSpot, type KnownProcess } from './detect.js';

/**
 * Names HotSpot JIT frames without any change to the Java application: when samples of a process land
 * in JIT code the symbolizer cannot name, and the process is a HotSpot JVM, the agent asks that JVM —
 * through the dynamic attach protocol (attach.ts) — to run `Compiler.perfmap` (JDK 17+), which writes
 * every code blob's address, size and method to /tmp/perf-<pid>.map in the JVM's own mount namespace.
 * The symbolizer reads that file like any JIT's perf map.
 *
 * Requests are driven by misses, so a JVM whose map already names its hot code costs nothing more; they
 * are asynchronous (the agent's loop never waits on a JVM), at most `maxInFlight` at a time, and for each
 * JVM at most once per period that starts at `minIntervalMs` and doubles after each request up to
 * `maxIntervalMs`: a JVM warming up is re-read within seconds, one compiling now and then once a minute.
 * The JVM rewrites the whole file each time (its cost grows with the code cache, see docs/BENCHMARKS.md).
 *
 * Timing: the first miss of a JVM asks at once. Later misses are answered just before the next interval
 * is symbolized (`intervalEnds`), not right after this one: code the JIT compiles meanwhile — a warming
 * JVM recompiles its hot methods tier after tier — is then in the map when its samples are read, where
 * a request right after the miss would leave each new version unnamed for a whole interval.
 */

export interface JvmPerfMapOptions extends AttachOptions {
  readonly minIntervalMs?: number;
  readonly maxIntervalMs?: number;
  readonly maxInFlight?: number;
  /** A process found not to be a JVM is looked at again after this long (pids are reused). */
  readonly recheckMs?: number;
  /** How long before an interval ends its request is made (the JVM writes the map meanwhile). */
  readonly leadMs?: number;
  readonly log?: (line: string) => void;
}

/** Named to sit beside the symbolizer's own stats on the agent's /metrics (kiln_agent_symbolizer_stat). */
export interface JvmPerfMapStats {
  /** Processes recognised as HotSpot JVMs. */
  readonly jvmProcesses: number;
  /** Compiler.perfmap commands that succeeded. */
  readonly jvmMapsWritten: number;
  readonly jvmMapFailures: number;
  /** Wall time of the last successful request, attach included when it was the first (ms). */
  readonly jvmLastMapRequestMs: number;
}

interface ProcessState {
  readonly startTime: string | undefined;
  readonly jvm: boolean;
  /** No request before this time (Infinity: one in flight, or given up on this process). */
  nextAt: number;
  intervalMs: number;
  /** Whether a request was ever made (the first miss asks at once). */
  asked: boolean;
}

export class JvmPerfMaps {
  private readonly procRoot: string;
  private readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly maxInFlight: number;
  private readonly recheckMs: number;
  private readonly leadMs: number;
  /** JVMs with unnamed JIT code since the last intervalEnds(). */
  private readonly missed = new Set<number>();
  private readonly byPid = new LruCache<number, ProcessState>(4096);
  private inFlight = 0;
  private counters = { jvmProcesses: 0, jvmMapsWritten: 0, jvmMapFailures: 0, jvmLastMapRequestMs: 0 };

  constructor(private readonly options: JvmPerfMapOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.maxIntervalMs = options.maxIntervalMs ?? 60_000;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.recheckMs = options.recheckMs ?? 60_000;
    this.leadMs = options.leadMs ?? 300;
  }

  /**
   * The symbolizer found JIT code (anonymous executable memory) in `pid` that no perf map names. With
   * `known` (the symbolizer's snapshot of the process) it is classified without reading /proc.
   */
  unnamed(pid: number, known?: KnownProcess): void {
    const now = Date.now();
    let s = this.byPid.get(pid);
    const startTime = () => (known ? known.startTime : readStartTime(pid, this.procRoot));
    // Not a JVM: looked at again after recheckMs, or at once when the snapshot says the pid was reused.
    if (s && !s.jvm && now < s.nextAt && (!known || known.startTime === s.startTime)) return;
    if (!s || !s.jvm || (!s.asked && startTime() !== s.startTime)) s = this.classify(pid, now, known);
    if (!s.jvm) return;
    if (!s.asked) this.request(pid, s);
    else this.missed.add(pid);
  }

  /**
   * The agent symbolized an interval; the next one will be read at `nextEndMs`. Each JVM that had
   * unnamed JIT code is asked for its map shortly before then (or when its period ends, if later).
   */
  intervalEnds(nextEndMs: number): void {
    const now = Date.now();
    for (const pid of this.missed) {
      const s = this.byPid.get(pid);
      if (!s?.jvm || !Number.isFinite(s.nextAt)) continue;
      const at = Math.max(s.nextAt, nextEndMs - this.leadMs);
      setTimeout(() => {
        // Exited, or the pid is another process now: its next miss classifies it afresh.
        if (readStartTime(pid, this.procRoot) !== s.startTime) this.byPid.delete(pid);
        else if (Date.now() >= s.nextAt && this.inFlight < this.maxInFlight) this.request(pid, s);
      }, Math.max(0, at - now)).unref();
    }
    this.missed.clear();
  }

  stats(): JvmPerfMapStats {
    return { ...this.counters };
  }

  private classify(pid: number, now: number, known: KnownProcess | undefined): ProcessState {
    const jvm = known ? mapsHotSpot(known.mappings) : isHotSpot(pid, this.procRoot);
    const s: ProcessState = { startTime: known ? known.startTime : readStartTime(pid, this.procRoot), jvm, nextAt: jvm ? now : now + this.recheckMs, intervalMs: this.minIntervalMs, asked: false };
    if (jvm) this.counters.jvmProcesses++;
    this.byPid.set(pid, s);
    return s;
  }

  private request(pid: number, s: ProcessState): void {
    s.nextAt = Infinity;
    s.asked = true;
    this.inFlight++;
    const t0 = performance.now();
    jcmd(pid, 'Compiler.perfmap', this.options)
      .then(({ status, output }) => {
        // JDK 8 and 11 have no Compiler.perfmap: they answer with an IllegalArgumentException.
        if (status !== 0 || /^java\.lang\.\w*(Exception|Error)/m.test(output)) {
          throw new AttachError(`Compiler.perfmap refused (JDK 17+ needed): ${output.trim().split('\n')[0] ?? `status ${status}`}`, true);
        }
        this.counters.jvmMapsWritten++;
        this.counters.jvmLastMapRequestMs = performance.now() - t0;
        s.nextAt = Date.now() + s.intervalMs;
        s.intervalMs = Math.min(s.intervalMs * 2, this.maxIntervalMs);
      })
      .catch((e: unknown) => {
        this.counters.jvmMapFailures++;
        const permanent = e instanceof AttachError && e.permanent;
        s.nextAt = permanent ? Infinity : Date.now() + this.maxIntervalMs;
        this.options.log?.(`JVM ${pid}: no JIT symbol map${permanent ? '' : ', will retry'}: ${(e as Error).message}`);
      })
      .finally(() => this.inFlight--);
  }
}
