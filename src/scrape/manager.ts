import { EmptyProfileError, decodePprof } from '../formats/pprof.js';
import { gunzipBounded } from '../formats/compression.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ScrapeConfig } from './config.js';
import type { ScrapeTarget } from './targets.js';
import { CumulativeDelta } from './delta.js';

/** Largest pprof body one scrape reads (a huge heap profile is a target problem, not a reason to OOM). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** What `/targets` shows per target and profile: Prometheus' target health, per endpoint. */
export interface TargetHealth extends Pick<ScrapeTarget, 'job' | 'url' | 'labels' | 'discoveredLabels'> {
  readonly instance: string;
  readonly profile: string;
  health: 'unknown' | 'up' | 'down';
  lastScrape: string;
  lastScrapeDurationMs: number;
  lastError: string;
  samplesStored: number;
}

export type DroppedTarget = Pick<ScrapeTarget, 'job' | 'discoveredLabels'>;

export type WriteScraped = (profiles: Profile[]) => Promise<void>;

interface Loop {
  readonly key: string;
  readonly health: TargetHealth;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
  inFlight: AbortController | undefined;
}

/**
 * Pulls pprof from every configured target and endpoint on its job's interval (Prometheus' scrape
 * loop, Parca's profiling_config) and writes what it gets through the server's one write path. Each
 * loop starts at a random offset within the interval, so many targets do not fire together; a scrape
 * never runs past its timeout; a config change restarts only the loops that changed.
 */
export class ScrapeManager {
  private loops = new Map<string, Loop>();
  private applied: readonly ScrapeConfig[] | undefined;
  private dropped: DroppedTarget[] = [];

  constructor(private readonly write: WriteScraped) {}

  /** Applies a (re)loaded config: new loops start, removed ones stop, unchanged ones keep running. */
  apply(configs: readonly ScrapeConfig[]): void {
    // The live config is polled: the same object means nothing was reloaded.
    if (configs === this.applied) return;
    this.applied = configs;
    this.dropped = configs.flatMap((cfg) => cfg.droppedTargets.map((discoveredLabels) => ({ job: cfg.jobName, discoveredLabels })));
    // A loop is its target as plain data: a reload that changes a target's URL, labels or timing restarts it.
    const wanted = new Map(configs.flatMap((cfg) => cfg.targets.map((t) => [JSON.stringify(t), t] as const)));
    for (const [key, loop] of this.loops) if (!wanted.has(key)) this.stopLoop(loop, key);
    for (const [key, t] of wanted) if (!this.loops.has(key)) this.startLoop(key, t);
  }

  targets(): TargetHealth[] {
    return [...this.loops.values()].map((l) => ({ ...l.health }));
  }

  /** Targets a keep/drop rule removed, so a user can see why one is not scraped. */
  droppedTargets(): DroppedTarget[] {
    return this.dropped;
  }

  stop(): void {
    for (const [key, loop] of this.loops) this.stopLoop(loop, key);
  }

  private stopLoop(loop: Loop, key: string): void {
    loop.stopped = true;
    clearTimeout(loop.timer);
    loop.inFlight?.abort();
    this.loops.delete(key);
  }

  private startLoop(key: string, t: ScrapeTarget): void {
    const { url, endpoint: ep, intervalMs, timeoutMs } = t;
    const health: TargetHealth = {
      job: t.job, instance: t.labels['instance'] ?? '', profile: ep.name, url, labels: t.labels, discoveredLabels: t.discoveredLabels,
      health: 'unknown', lastScrape: '', lastScrapeDurationMs: 0, lastError: '', samplesStored: 0,
    };
    const loop: Loop = { key, health, timer: undefined, stopped: false, inFlight: undefined };
    const delta = ep.cumulative ? new CumulativeDelta() : undefined;
    const seriesLabels = labelsFrom(t.labels);
    const run = async () => {
      const started = Date.now();
      const ac = new AbortController();
      loop.inFlight = ac;
      const timeout = setTimeout(() => ac.abort(new Error(`scrape timed out after ${timeoutMs} ms`)), timeoutMs);
      try {
        const res = await fetch(url, { signal: ac.signal, headers: { accept: 'application/octet-stream' } });
        if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
        const declared = Number(res.headers.get('content-length') ?? 0);
        if (declared > MAX_BODY_BYTES) throw new Error(`GET ${url}: body of ${declared} bytes is over ${MAX_BODY_BYTES}`);
        let body: Uint8Array = gunzipBounded(new Uint8Array(await res.arrayBuffer()), MAX_BODY_BYTES);
        if (delta) body = delta.apply(body);
        // A profile with nothing in it (an idle CPU, a first cumulative scrape) is a healthy scrape of nothing.
        let decoded: Profile[] = [];
        try {
          decoded = decodePprof(body, { labels: seriesLabels, timeMs: started });
        } catch (e) {
          if (!(e instanceof EmptyProfileError)) throw e;
        }
        // The endpoint names the profile (Go's block and mutex pprofs look alike) when it measures one kind of thing.
        const single = new Set(decoded.map((p) => p.type.name)).size === 1;
        const profiles = decoded.filter((p) => p.values.length > 0).map((p) => (single ? { ...p, type: { ...p.type, name: ep.name } } : p));
        if (profiles.length > 0) await this.write(profiles);
        health.samplesStored = profiles.reduce((a, p) => a + p.values.length, 0);
        health.health = 'up';
        health.lastError = '';
      } catch (e) {
        if (loop.stopped) return;
        health.health = 'down';
        health.lastError = errorText(e);
      } finally {
        clearTimeout(timeout);
        loop.inFlight = undefined;
        health.lastScrape = new Date(started).toISOString();
        health.lastScrapeDurationMs = Date.now() - started;
      }
    };
    // Every interval from the loop's start, whatever a scrape took (a CPU scrape takes most of it).
    const schedule = (delayMs: number) => {
      if (loop.stopped) return;
      loop.timer = setTimeout(() => {
        const began = Date.now();
        void run().finally(() => schedule(Math.max(0, intervalMs - (Date.now() - began))));
      }, delayMs);
      loop.timer.unref();
    };
    this.loops.set(key, loop);
    schedule(Math.floor(Math.random() * Math.min(intervalMs, 1000)));
  }
}

/** fetch() says only "fetch failed"; the reason a user can act on (ECONNREFUSED, a DNS miss) is its cause. */
function errorText(e: unknown): string {
  const err = e as Error;
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}
