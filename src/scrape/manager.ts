import { EmptyProfileError, decodePprof } from '../formats/pprof.js';
import { gunzipBounded } from '../formats/compression.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { PprofEndpoint, ScrapeConfig } from './config.js';
import { CumulativeDelta } from './delta.js';

/** Largest pprof body one scrape reads (a huge heap profile is a target problem, not a reason to OOM). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** What `/targets` shows per target and profile: Prometheus' target health, per endpoint. */
export interface TargetHealth {
  readonly job: string;
  readonly instance: string;
  readonly profile: string;
  readonly url: string;
  readonly labels: Readonly<Record<string, string>>;
  health: 'unknown' | 'up' | 'down';
  lastScrape: string;
  lastScrapeDurationMs: number;
  lastError: string;
  samplesStored: number;
}

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
  private configText = '';

  constructor(private readonly write: WriteScraped) {}

  /** Applies a (re)loaded config: new loops start, removed ones stop, unchanged ones keep running. */
  apply(configs: readonly ScrapeConfig[]): void {
    const text = JSON.stringify(configs);
    if (text === this.configText) return;
    this.configText = text;
    const wanted = new Map<string, { cfg: ScrapeConfig; target: string; labels: Record<string, string>; ep: PprofEndpoint }>();
    for (const cfg of configs) {
      for (const sc of cfg.staticConfigs) {
        for (const target of sc.targets) {
          for (const ep of cfg.endpoints) {
            wanted.set(JSON.stringify([cfg, target, sc.labels, ep]), { cfg, target, labels: { ...sc.labels }, ep });
          }
        }
      }
    }
    for (const [key, loop] of this.loops) if (!wanted.has(key)) this.stopLoop(loop, key);
    for (const [key, w] of wanted) if (!this.loops.has(key)) this.startLoop(key, w.cfg, w.target, w.labels, w.ep);
  }

  targets(): TargetHealth[] {
    return [...this.loops.values()].map((l) => ({ ...l.health }));
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

  private startLoop(key: string, cfg: ScrapeConfig, target: string, labels: Record<string, string>, ep: PprofEndpoint): void {
    // A CPU profile covers the interval less a second, so it is back before the next scrape starts.
    const seconds = Math.max(1, Math.min(Math.floor(cfg.intervalMs / 1000) - 1, Math.floor(cfg.timeoutMs / 1000) - 1));
    const url = `${cfg.scheme}://${target}${ep.path}${ep.seconds ? `?seconds=${seconds}` : ''}`;
    const health: TargetHealth = {
      job: cfg.jobName, instance: target, profile: ep.name, url, labels, health: 'unknown', lastScrape: '', lastScrapeDurationMs: 0, lastError: '', samplesStored: 0,
    };
    const loop: Loop = { key, health, timer: undefined, stopped: false, inFlight: undefined };
    const delta = ep.cumulative ? new CumulativeDelta() : undefined;
    const seriesLabels = labelsFrom(Object.entries({ service_name: cfg.jobName, ...labels, job: cfg.jobName, instance: target }));
    const run = async () => {
      const started = Date.now();
      const ac = new AbortController();
      loop.inFlight = ac;
      const timeout = setTimeout(() => ac.abort(new Error(`scrape timed out after ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
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
        health.lastError = (e as Error).message;
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
        void run().finally(() => schedule(Math.max(0, cfg.intervalMs - (Date.now() - began))));
      }, delayMs);
      loop.timer.unref();
    };
    this.loops.set(key, loop);
    schedule(Math.floor(Math.random() * Math.min(cfg.intervalMs, 1000)));
  }
}
