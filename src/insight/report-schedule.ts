import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { QueryEngine } from '../query/engine.js';
import type { CostConfig } from './cost.js';
import { buildTeamReport } from './report.js';
import type { ReportSchedule } from './report-config.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-markdown.js';

export interface ReportSchedulerOptions {
  readonly query: QueryEngine;
  /** The current schedules and prices (read at every tick, so a reloaded config applies at once). */
  readonly settings: () => { readonly reports: readonly ReportSchedule[]; readonly cost: CostConfig | undefined };
  /** Base of the links into the UI (the server's external URL), read per run: a reload may change it. */
  readonly uiUrl: () => string;
  readonly log: (message: string) => void;
}

/** What one run produced. */
export interface ReportRun {
  readonly file?: string;
  readonly webhookStatus?: number;
}

const MINUTE_MS = 60_000;
const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * Runs the scheduled reports inside the server. It wakes on every whole minute (UTC) and runs each
 * schedule whose cron fires in that minute, so a schedule added, changed or removed by a config reload
 * counts from the next minute. A run that fails is logged and does not stop later runs; two runs never
 * overlap for one schedule (a slow report skips the firing that finds it still running).
 */
export class ReportScheduler {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: ReportSchedulerOptions) {}

  start(): void {
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Runs every schedule that fires in the minute starting at `minuteMs` (exported for tests). */
  tick(minuteMs: number): Promise<void>[] {
    const { reports } = this.opts.settings();
    const started: Promise<void>[] = [];
    for (const s of reports) {
      if (s.cron.next(minuteMs - 1) !== minuteMs) continue;
      const key = `${s.where}|${s.team}`;
      if (this.running.has(key)) {
        this.opts.log(`${s.where}: the previous report for ${s.team} is still running; skipping this one`);
        continue;
      }
      const run = this.run(s, minuteMs).then(
        (r) => this.opts.log(`${s.where}: report for team ${s.team} ${[r.file && `written to ${r.file}`, r.webhookStatus && `posted (HTTP ${r.webhookStatus})`].filter(Boolean).join(', ')}`),
        (e: unknown) => this.opts.log(`${s.where}: report for team ${s.team} failed: ${(e as Error).message}`),
      );
      const tracked = run.finally(() => this.running.delete(key));
      this.running.set(key, tracked);
      started.push(tracked);
    }
    return started;
  }

  /** One report now, for the period ending at `atMs`: written to the output directory and/or posted. */
  async run(s: ReportSchedule, atMs: number): Promise<ReportRun> {
    const report = await buildTeamReport(
      this.opts.query,
      { tenant: s.tenant, team: s.team, profileType: s.profileType, range: { from: atMs - s.rangeMs, to: atMs }, top: s.top },
      this.opts.settings().cost,
    );
    const uiUrl = this.opts.uiUrl();
    const markdown = reportMarkdown(report, uiUrl);
    let file: string | undefined;
    if (s.output) {
      await mkdir(s.output, { recursive: true });
      const stamp = new Date(atMs).toISOString().slice(0, 16).replace(/:/g, '');
      file = path.join(s.output, `kiln-report-${s.team.replace(/[^A-Za-z0-9._-]/g, '_')}-${stamp}.${s.format === 'html' ? 'html' : 'md'}`);
      // Write beside, then rename: a reader (a web server, a sync job) never sees half a report.
      await writeFile(`${file}.tmp`, s.format === 'html' ? reportHtml(report, uiUrl) : markdown);
      await rename(`${file}.tmp`, file);
    }
    let webhookStatus: number | undefined;
    if (s.webhook) {
      const res = await fetch(s.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // `text` is what Slack, Mattermost and most chat webhooks show; `report` is the whole model.
        body: JSON.stringify({ text: markdown, report }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`the webhook answered HTTP ${res.status}`); // its URL is a secret: not in logs
      webhookStatus = res.status;
    }
    return { file, webhookStatus };
  }

  private arm(): void {
    if (this.stopped) return;
    const now = Date.now();
    const next = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
    this.timer = setTimeout(() => {
      this.tick(next);
      this.arm();
    }, next - now);
    this.timer.unref();
  }
}
