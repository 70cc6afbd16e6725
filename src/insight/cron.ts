import { InputError } from '../model/errors.js';

/**
 * Cron schedules for scheduled reports: the five fields of crontab(5) — minute hour day-of-month month
 * day-of-week — with `*`, lists `1,15`, ranges `1-5`, steps `*\/15` `0-30/10`, names (`MON`, `jan`),
 * 7 as Sunday, and the `@hourly @daily @midnight @weekly @monthly @yearly @annually` shorthands.
 * As in Vixie cron, when both day fields are restricted a day matching either one fires.
 * Times are UTC: a server's reports do not move with the host's time zone or daylight saving.
 */
export interface CronSchedule {
  readonly text: string;
  /** The first firing strictly after `afterMs`, in Unix ms (always on a whole minute). */
  next(afterMs: number): number;
}

interface Field {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MINUTE: Field = { min: 0, max: 59 };
const HOUR: Field = { min: 0, max: 23 };
const DOM: Field = { min: 1, max: 31 };
const MONTH: Field = { min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] };
const DOW: Field = { min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] };

const MACROS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const MINUTE_MS = 60_000;
/** A schedule that has not fired within this many years never will (`0 0 30 2 *`). */
const HORIZON_MS = 8 * 366 * 24 * 3_600_000;

export function parseCron(text: string): CronSchedule {
  const expanded = MACROS[text.trim().toLowerCase()] ?? text.trim();
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) throw new InputError(`cron "${text}": expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const [mi, ho, dm, mo, dw] = parts as [string, string, string, string, string];
  const minutes = field(mi, MINUTE, text, 'minute');
  const hours = field(ho, HOUR, text, 'hour');
  const days = field(dm, DOM, text, 'day-of-month');
  const months = field(mo, MONTH, text, 'month');
  const weekdays = field(dw, DOW, text, 'day-of-week');
  if (weekdays.has(7)) weekdays.add(0);
  const domStar = dm === '*' || dm === '?';
  const dowStar = dw === '*' || dw === '?';
  const dayMatches = (d: Date): boolean => {
    const inMonth = days.has(d.getUTCDate());
    const inWeek = weekdays.has(d.getUTCDay());
    if (domStar && dowStar) return true;
    if (domStar) return inWeek;
    if (dowStar) return inMonth;
    return inMonth || inWeek;
  };
  const schedule: CronSchedule = {
    text,
    next(afterMs: number): number {
      let t = (Math.floor(afterMs / MINUTE_MS) + 1) * MINUTE_MS;
      const limit = afterMs + HORIZON_MS;
      // Jump a month, a day or an hour at a time when that field rules the instant out.
      while (t <= limit) {
        const d = new Date(t);
        if (!months.has(d.getUTCMonth() + 1)) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
        } else if (!dayMatches(d)) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
        } else if (!hours.has(d.getUTCHours())) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
        } else if (!minutes.has(d.getUTCMinutes())) {
          t += MINUTE_MS;
        } else {
          return t;
        }
      }
      throw new InputError(`cron "${text}" never fires`);
    },
  };
  schedule.next(Date.UTC(2000, 0, 1)); // refuse at load time a schedule that can never fire
  return schedule;
}

function field(text: string, f: Field, whole: string, what: string): Set<number> {
  const out = new Set<number>();
  const bad = (why: string) => new InputError(`cron "${whole}": ${what} "${text}" ${why}`);
  for (const item of text.split(',')) {
    const [range, stepText] = item.split('/') as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw bad(`has a bad step "/${stepText}"`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      lo = f.min;
      hi = f === DOW ? 6 : f.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = value(a, f, bad);
      hi = value(b, f, bad);
      if (lo > hi) throw bad(`is a range that runs backwards`);
    } else {
      lo = value(range, f, bad);
      // `5/10` means from 5 to the end, every 10 (as in Vixie cron).
      hi = stepText !== undefined ? f.max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function value(text: string, f: Field, bad: (why: string) => InputError): number {
  const name = f.names?.indexOf(text.toUpperCase()) ?? -1;
  if (name >= 0) return f.names === DOW.names ? name : name + 1;
  if (!/^\d+$/.test(text)) throw bad(`is not a number${f.names ? ' or a name' : ''}`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw bad(`is out of range ${f.min}-${f.max}`);
  return n;
}
