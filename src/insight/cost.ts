import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { matches } from '../model/matcher.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseMatchers } from '../query/selector.js';
import { Section } from './yaml-section.js';

/**
 * What a profile costs in money (kiln.yaml `cost:`):
 *
 *   cost:
 *     core_hour: 0.031          # price of one CPU core for an hour
 *     gib_hour: 0.004           # price of one GiB of memory held for an hour
 *     currency: USD
 *     prices:                   # optional, first match wins; a rule may set one price or both
 *       - { match: '{node_pool="spot"}', core_hour: 0.011 }
 *       - { match: '{region="eu-west-1"}', core_hour: 0.035, gib_hour: 0.005 }
 *
 * CPU profiles (sample unit nanoseconds of CPU) are priced per core-hour: 3.6e12 ns of CPU is one
 * core-hour, whatever the range. In-use memory profiles (inuse_space, bytes) are snapshots: each series
 * sends one every `memory_interval` (10 s, the agents' and SDKs' push period), so a merged value of V
 * bytes stands for V bytes held for one interval: V / 2^30 × interval GiB-hours. Other types (wall
 * time, allocations, locks) have no price.
 *
 * Costs are linear in the value, so a function's cost is its value times the rate of the series it was
 * measured on; per-label prices split the value by the labels the rules name (see priceLabels).
 */
export interface CostConfig {
  readonly coreHour: number;
  readonly gibHour: number;
  readonly currency: string;
  readonly memoryIntervalMs: number;
  readonly prices: readonly PriceRule[];
}

export interface PriceRule {
  readonly match: string;
  readonly matchers: readonly Matcher[];
  readonly coreHour: number | undefined;
  readonly gibHour: number | undefined;
}

export type Resource = 'cpu' | 'memory';

export const HOUR_MS = 3_600_000;
export const WEEK_MS = 7 * 24 * HOUR_MS;
/** A month as cloud bills count it: 730 hours (8760 / 12). */
export const MONTH_MS = 730 * HOUR_MS;

const NS_PER_CORE_HOUR = 3.6e12;
const GIB = 1024 ** 3;

export function costSection(v: unknown, file: string): CostConfig {
  const s = Section.of(v, file, 'cost');
  s.allowOnly(['core_hour', 'gib_hour', 'currency', 'memory_interval', 'prices']);
  const prices = s.sections('prices').map((r): PriceRule => {
    r.allowOnly(['match', 'core_hour', 'gib_hour']);
    const match = r.requiredString('match');
    let matchers: Matcher[];
    try {
      matchers = parseMatchers(match);
    } catch (e) {
      throw new InputError(`${r.where('match')}: ${(e as Error).message}`);
    }
    const coreHour = price(r, 'core_hour');
    const gibHour = price(r, 'gib_hour');
    if (coreHour === undefined && gibHour === undefined) throw new InputError(`${r.where('match')}: the rule sets no price (give core_hour, gib_hour or both)`);
    return { match, matchers, coreHour, gibHour };
  });
  const coreHour = price(s, 'core_hour');
  const gibHour = price(s, 'gib_hour');
  if (coreHour === undefined && gibHour === undefined && prices.length === 0) {
    throw new InputError(`${s.where('core_hour')} is missing: give core_hour and/or gib_hour`);
  }
  return {
    coreHour: coreHour ?? 0,
    gibHour: gibHour ?? 0,
    currency: s.string('currency') ?? 'USD',
    memoryIntervalMs: s.duration('memory_interval', 10_000, 1000),
    prices,
  };
}

function price(s: Section, key: string): number | undefined {
  const v = s.raw(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InputError(`${s.where(key)} must be a price, a number ≥ 0 (e.g. 0.031)`);
  return v;
}

/** Which priced resource a profile type measures, or undefined when it has no price. */
export function resourceOf(t: ProfileType): Resource | undefined {
  if (t.sampleUnit === 'nanoseconds' && (t.sampleType === 'cpu' || (t.periodType === 'cpu' && t.sampleType !== 'wall'))) return 'cpu';
  if (t.sampleUnit === 'bytes' && t.sampleType === 'inuse_space') return 'memory';
  return undefined;
}

/** Label names the price rules look at: group a merge by these and every group has one price. */
export function priceLabels(cost: CostConfig | undefined): string[] {
  if (!cost) return [];
  const names = new Set<string>();
  for (const r of cost.prices) for (const m of r.matchers) names.add(m.name);
  return [...names].sort();
}

/**
 * Money per unit of value for series with these labels: the first rule that matches and prices this
 * resource, else the default price. `labels` needs only the names priceLabels lists (a label the group
 * lacks matches as "", as in every selector).
 */
export function rateOf(cost: CostConfig, resource: Resource, labels: Labels): number {
  for (const r of cost.prices) {
    const p = resource === 'cpu' ? r.coreHour : r.gibHour;
    if (p !== undefined && matches(labels, r.matchers)) return perUnit(cost, resource, p);
  }
  return perUnit(cost, resource, resource === 'cpu' ? cost.coreHour : cost.gibHour);
}

function perUnit(cost: CostConfig, resource: Resource, hourly: number): number {
  if (resource === 'cpu') return hourly / NS_PER_CORE_HOUR;
  return (hourly * cost.memoryIntervalMs) / HOUR_MS / GIB;
}

/** Values measured over `rangeMs` as a rate per week (a cost, cores-worth of CPU, …). */
export function perWeek(amount: number, rangeMs: number): number {
  return rangeMs > 0 ? (amount * WEEK_MS) / rangeMs : 0;
}

export function perMonth(amount: number, rangeMs: number): number {
  return rangeMs > 0 ? (amount * MONTH_MS) / rangeMs : 0;
}

/** Average CPU cores over the range from CPU nanoseconds (what a CPU profile's values sum to). */
export function coresOf(nanoseconds: number, rangeMs: number): number {
  return rangeMs > 0 ? nanoseconds / 1e6 / rangeMs : 0;
}

/** `$12.40`, `€0.031`, `1,204.00 SEK`: two decimals, more below one unit so small costs do not read as 0. */
export function formatMoney(amount: number, currency: string): string {
  const digits = Math.abs(amount) >= 1 || amount === 0 ? 2 : Math.abs(amount) >= 0.01 ? 3 : 4;
  const n = amount.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const symbol = CURRENCY_SYMBOLS[currency];
  return symbol ? `${amount < 0 ? '-' : ''}${symbol}${n.replace(/^-/, '')}` : `${n} ${currency}`;
}

const CURRENCY_SYMBOLS: Readonly<Record<string, string>> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };
