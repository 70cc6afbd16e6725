import { describe, expect, it } from 'vitest';
import { parseCron } from '../../src/insight/cron.js';
import { parseServerConfig } from '../../src/config/server-config.js';

/** The cron schedules of scheduled reports: crontab(5) fields, UTC, and errors that name the field. */
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('cron schedules', () => {
  it('finds the next firing of common schedules', () => {
    const monday8 = parseCron('0 8 * * MON');
    // 2026-11-30 is a Monday.
    expect(iso(monday8.next(at('2026-11-30T07:59:00Z')))).toBe('2026-11-30T08:00:00.000Z');
    expect(iso(monday8.next(at('2026-11-30T08:00:00Z')))).toBe('2026-12-07T08:00:00.000Z');
    expect(iso(parseCron('*/15 * * * *').next(at('2026-11-30T10:07:30Z')))).toBe('2026-11-30T10:15:00.000Z');
    expect(iso(parseCron('@daily').next(at('2026-12-31T23:59:00Z')))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(parseCron('30 9 1 */3 *').next(at('2026-11-30T00:00:00Z')))).toBe('2027-01-01T09:30:00.000Z');
    expect(iso(parseCron('0 0 29 2 *').next(at('2026-03-01T00:00:00Z')))).toBe('2028-02-29T00:00:00.000Z');
    expect(iso(parseCron('0 12 * * 7').next(at('2026-11-30T00:00:00Z')))).toBe('2026-12-06T12:00:00.000Z'); // 7 is Sunday
    expect(iso(parseCron('5-10/5 1,13 * jan-mar mon-fri').next(at('2026-11-30T00:00:00Z')))).toBe('2027-01-01T01:05:00.000Z');
  });

  it('fires on either day field when both are restricted, as Vixie cron does', () => {
    // The 15th, or any Friday: from Monday 2026-11-30, Friday 2026-12-04 comes first, then the 15th.
    const c = parseCron('0 0 15 * FRI');
    const first = c.next(at('2026-11-30T00:00:00Z'));
    expect(iso(first)).toBe('2026-12-04T00:00:00.000Z');
    expect(iso(c.next(at('2026-12-12T00:00:00Z')))).toBe('2026-12-15T00:00:00.000Z');
  });

  it('refuses what crontab would, naming the field', () => {
    expect(() => parseCron('0 8 * *')).toThrow('expected 5 fields');
    expect(() => parseCron('60 * * * *')).toThrow('minute "60" is out of range 0-59');
    expect(() => parseCron('0 8 * * FUN')).toThrow('day-of-week "FUN" is not a number or a name');
    expect(() => parseCron('*/0 * * * *')).toThrow('bad step');
    expect(() => parseCron('0 0 30 2 *')).toThrow('never fires');
    expect(() => parseServerConfig('reports: [ { cron: "0 25 * * *", team: a, output: out } ]', 'kiln.yaml')).toThrow('kiln.yaml: reports[0].cron: cron "0 25 * * *": hour "25" is out of range 0-23');
  });

  it('reads report schedules and names the file and key of a mistake', () => {
    const cfg = parseServerConfig('reports:\n  - { cron: "@weekly", team: payments, output: reports, webhook: "http://chat:8080/hook" }\n', '/etc/kiln/kiln.yaml');
    expect(cfg.reports![0]).toMatchObject({ team: 'payments', output: '/etc/kiln/reports', webhook: 'http://chat:8080/hook', rangeMs: 7 * 86_400_000, format: 'html', top: 20 });
    expect(() => parseServerConfig('reports: [ { cron: "@daily", team: a } ]', 'kiln.yaml')).toThrow('kiln.yaml: reports[0].output is missing: give an output directory, a webhook URL, or both');
    expect(() => parseServerConfig('reports: [ { cron: "@daily", team: a, output: x, format: pdf } ]', 'kiln.yaml')).toThrow('kiln.yaml: reports[0].format must be html or markdown');
    expect(() => parseServerConfig('reports: [ { cron: "@daily", team: a, webhook: "ftp://x" } ]', 'kiln.yaml')).toThrow('kiln.yaml: reports[0].webhook: "ftp://x" must be an http:// or https:// URL');
    expect(() => parseServerConfig('reports: [ { cron: "@daily", output: x } ]', 'kiln.yaml')).toThrow('kiln.yaml: reports[0].team is missing');
    expect(() => parseServerConfig('reports: { cron: "@daily" }', 'kiln.yaml')).toThrow('kiln.yaml: reports must be a list');
  });
});
