import type { Matcher } from '../model/matcher.js';
import { SERVICE_NAME } from '../model/labels.js';
import { formatMatchers } from '../query/selector.js';
import { formatMoney, perMonth } from './cost.js';
import { flameGraphUrl } from './flame-link.js';
import type { TeamReport } from './report.js';

/** What the Markdown and HTML reports both print and link, so the two say the same thing. */

export function formatCores(cores: number): string {
  if (cores === 0) return '0';
  return cores >= 0.01 ? cores.toFixed(2) : cores.toPrecision(2);
}

/** `+12.3%`, `-4.0%`, `new` (nothing in the previous period). */
export function formatChange(change: number | null): string {
  if (change === null) return 'new';
  const p = change * 100;
  return `${p >= 0 ? '+' : '-'}${Math.abs(p).toFixed(1)}%`;
}

/** A value in the report's unit when there are no cores to show (memory, allocations …). */
export function formatAmount(value: number, unit: string): string {
  if (unit === 'bytes') return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  if (unit === 'nanoseconds') return `${(value / 1e9).toFixed(1)} s`;
  return value.toLocaleString('en-US');
}

export function money(r: TeamReport, amount: number | undefined): string {
  return amount === undefined || r.currency === undefined ? '' : formatMoney(amount, r.currency);
}

/** A service's cost over the report's range as a rate per month (730 h, as bills count), if priced. */
export function serviceCostPerMonth(r: TeamReport, s: TeamReport['services'][number]): number | undefined {
  return s.cost === undefined ? undefined : perMonth(s.cost, r.to - r.from);
}

/** `2026-11-23 08:00 UTC` */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function selectorText(r: TeamReport, extra: readonly Matcher[] = []): string {
  return `${r.profileType}${formatMatchers([...r.matchers, ...extra])}`;
}

/** Links into Kiln's UI (base: the server's external URL): the team's overview and flame graphs. */
export class ReportLinks {
  constructor(
    private readonly base: string,
    private readonly r: TeamReport,
  ) {}

  overview(): string {
    const p = new URLSearchParams({ page: 'services', type: this.r.profileType, team: this.r.team, from: String(this.r.from), until: String(this.r.to) });
    return `${this.base.replace(/\/+$/, '')}/?${p}`;
  }

  service(service: string): string {
    return flameGraphUrl(this.base, { profileType: this.r.profileType, matchers: [...this.r.matchers, serviceMatcher(service)] }, this.r.from, this.r.to);
  }

  /** The team's flame graph with the function highlighted by the search box. */
  fn(name: string): string {
    return flameGraphUrl(this.base, { profileType: this.r.profileType, matchers: this.r.matchers, search: name }, this.r.from, this.r.to);
  }
}

export function serviceMatcher(service: string): Matcher {
  return { name: SERVICE_NAME, op: '=', value: service };
}

/** The service's name as shown ('' is a series without service_name). */
export function serviceLabel(service: string): string {
  return service === '' ? '(no service_name)' : service;
}
