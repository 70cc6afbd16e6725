import type { ServerConfig } from '../config/server-config.js';
import type { ServerMetrics } from '../server/metrics.js';
import type { Store } from '../store/store.js';
import type { InsightSettings } from './evaluator.js';
import { DEFAULT_INSIGHT, InsightEvaluator } from './evaluator.js';
import { registrySamples } from './own-metrics.js';

/** The insight sections of a server config, with defaults for those left out. */
export function insightSettings(cfg: ServerConfig): InsightSettings {
  return {
    metrics: cfg.metrics ?? DEFAULT_INSIGHT.metrics,
    cost: cfg.cost,
    rules: cfg.rules ?? [],
    alerting: cfg.alerting,
    remoteWrite: cfg.remoteWrite,
  };
}

export interface RunningInsight {
  readonly evaluator: InsightEvaluator;
  /** Applies a reloaded config (takes effect at the next evaluation). */
  apply(cfg: ServerConfig): void;
  stop(): Promise<void>;
}

/**
 * Starts the Prometheus bridge beside a running server: its figures are appended to the server's
 * /metrics, and alert rules may also read the server's own health metrics.
 */
export function startInsight(opts: { store: Store; metrics: ServerMetrics; config: ServerConfig; externalUrl: string; log: (message: string) => void }): RunningInsight {
  const evaluator = new InsightEvaluator({
    store: opts.store,
    externalUrl: opts.externalUrl,
    ownMetrics: () => registrySamples(opts.metrics.registry),
    log: opts.log,
  });
  evaluator.apply(insightSettings(opts.config));
  const detach = opts.metrics.appendText(() => evaluator.exposition());
  evaluator.start();
  return {
    evaluator,
    apply: (cfg) => evaluator.apply(insightSettings(cfg)),
    async stop() {
      await evaluator.stop();
      detach();
    },
  };
}
