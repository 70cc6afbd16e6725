import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { ScrapeManager, type TargetHealth } from '../scrape/manager.js';
import type { ServerContext } from './context.js';
import { DEFAULT_TENANT } from './tenant.js';
import { writeProfiles } from './write.js';

/** How often the live config is looked at for scrape_configs changes (reloads apply within this). */
const CONFIG_POLL_MS = 1000;

/**
 * Pull mode: the server scrapes the `scrape_configs:` of its config (src/scrape) into the default
 * tenant through the one write path, follows config reloads, and shows target health at `/targets`
 * (JSON, Prometheus' shape: activeTargets, one entry per target and profile with health, last scrape,
 * its duration and error; droppedTargets, the ones relabel_configs removed) and in `/metrics`.
 */
export function registerScrape(app: FastifyInstance, ctx: ServerContext): void {
  const manager = new ScrapeManager(async (profiles) => {
    await writeProfiles(ctx, DEFAULT_TENANT, 'scrape', profiles);
  });
  const sync = () => manager.apply(ctx.config?.().scrapeConfigs ?? []);
  sync();
  const poll = setInterval(sync, CONFIG_POLL_MS);
  poll.unref();
  app.addHook('onClose', async () => {
    clearInterval(poll);
    manager.stop();
  });
  registerTargetMetrics(ctx.metrics.registry, () => manager.targets());
  app.get('/targets', async () => ({ activeTargets: manager.targets(), droppedTargets: manager.droppedTargets() }));
}

/**
 * Prometheus' per-target series (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`) under
 * Kiln's prefix, one series per target and profile, read from the scrape loops when /metrics is
 * scraped. A target not scraped yet has no series, as in Prometheus.
 */
function registerTargetMetrics(registry: Registry, targets: () => TargetHealth[]): void {
  const gauge = (name: string, help: string, value: (t: TargetHealth) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['job', 'instance', 'profile'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of targets()) if (t.health !== 'unknown') this.set({ job: t.job, instance: t.instance, profile: t.profile }, value(t));
      },
    });
  };
  gauge('kiln_scrape_target_up', '1 when the last scrape of the target\'s profile succeeded, 0 when it failed (Prometheus\' up).', (t) => (t.health === 'up' ? 1 : 0));
  gauge('kiln_scrape_duration_seconds', 'How long the last scrape of the target\'s profile took, in seconds.', (t) => t.lastScrapeDurationMs / 1000);
  gauge('kiln_scrape_samples_stored', 'Samples (stack, value pairs) the last scrape of the target\'s profile stored.', (t) => t.samplesStored);
  gauge('kiln_scrape_last_timestamp_seconds', 'When the last scrape of the target\'s profile started, Unix seconds.', (t) => Date.parse(t.lastScrape) / 1000);
}
