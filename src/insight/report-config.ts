import path from 'node:path';
import { InputError } from '../model/errors.js';
import { CPU_TYPE, parseProfileType, profileTypeId } from '../model/profile-type.js';
import { DEFAULT_TENANT } from '../server/tenant.js';
import type { CronSchedule } from './cron.js';
import { parseCron } from './cron.js';
import { Section as YamlSection } from './yaml-section.js';

/**
 * Scheduled reports (kiln.yaml `reports:`), run by the server:
 *
 *   reports:
 *     - cron: "0 8 * * MON"                 # UTC; five fields or @daily, @weekly …
 *       team: payments
 *       output: /var/lib/kiln/reports       # a directory: one file per run
 *       webhook: https://chat.example/hooks/abc   # POSTs {"text": <markdown>, "report": {…}}
 *       range: 7d                           # the period reported (default 7d, compared with the 7d before)
 *       format: html                        # of the files: html (default) or markdown
 *       top: 20                             # functions listed
 *
 * Each entry needs an output directory, a webhook, or both.
 */
export interface ReportSchedule {
  /** `kiln.yaml: reports[0]`, for logs. */
  readonly where: string;
  readonly cron: CronSchedule;
  readonly team: string;
  readonly output: string | undefined;
  readonly webhook: string | undefined;
  readonly rangeMs: number;
  readonly format: 'html' | 'markdown';
  readonly profileType: string;
  readonly tenant: string;
  readonly top: number;
}

export function reportsSection(v: unknown, file: string): ReportSchedule[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new InputError(`${file}: reports must be a list of scheduled reports`);
  // Relative directories are found beside the config file, as rule_files are.
  const baseDir = path.dirname(path.resolve(file));
  return YamlSection.of({ reports: v }, file, '')
    .sections('reports')
    .map((s) => {
      s.allowOnly(['cron', 'team', 'output', 'webhook', 'range', 'format', 'profile_type', 'tenant', 'top']);
      const cronText = s.requiredString('cron');
      let cron: CronSchedule;
      try {
        cron = parseCron(cronText);
      } catch (e) {
        throw new InputError(`${s.where('cron')}: ${(e as Error).message}`);
      }
      const output = s.string('output');
      const webhook = s.httpUrl('webhook');
      if (output === undefined && webhook === undefined) throw new InputError(`${s.where('output')} is missing: give an output directory, a webhook URL, or both`);
      const format = s.string('format') ?? 'html';
      if (format !== 'html' && format !== 'markdown') throw new InputError(`${s.where('format')} must be html or markdown, got "${format}"`);
      let profileType = profileTypeId(CPU_TYPE);
      const typeText = s.string('profile_type');
      if (typeText !== undefined) {
        try {
          profileType = profileTypeId(parseProfileType(typeText));
        } catch (e) {
          throw new InputError(`${s.where('profile_type')}: ${(e as Error).message}`);
        }
      }
      return {
        where: `${file}: ${s.path}`,
        cron,
        team: s.requiredString('team'),
        output: output === undefined ? undefined : path.resolve(baseDir, output),
        webhook,
        rangeMs: s.duration('range', 7 * 86_400_000, 60_000),
        format,
        profileType,
        tenant: s.string('tenant') ?? DEFAULT_TENANT,
        top: s.int('top', 20, 1, 1000),
      };
    });
}
