import type { FastifyInstance } from 'fastify';
import { ScrapeManager } from '../scrape/manager.js';
import type { ServerContext } from './context.js';
import { DEFAULT_TENANT } from './tenant.js';
import { writeProfiles } from './write.js';

/** How often the live config is looked at for scrape_configs changes (reloads apply within this). */
const CONFIG_POLL_MS = 1000;

/**
 * Pull mode: the server scrapes the `scrape_configs:` of its config (src/scrape) into the default
 * tenant through the one write path, follows config reloads, and shows target health at `/targets`
 * (JSON, one entry per target and profile: health, last scrape, its duration and error).
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
  app.get('/targets', async () => ({ activeTargets: manager.targets() }));
}
