import { InputError } from '../model/errors.js';
import type { TimeRange } from '../store/store.js';

/**
 * Times as users and Pyroscope clients write them, turned into Unix milliseconds.
 *
 * Pyroscope's `from`/`until` (legacy /render and /ingest) follow Graphite's "attime" rules, and so do we:
 * - `now`, `now-1h`, `now-1h30m`, `now+5m`, and a bare offset `-1h` (relative to now);
 *   units s, m/min, h, d, w, mon/M (30 days), y (365 days);
 * - digits only: 8 digits that form a valid date are YYYYMMDD (UTC midnight); otherwise the length
 *   decides the unit — 13 digits are milliseconds, 16 microseconds, 19 nanoseconds, anything else seconds;
 * - and, beyond Pyroscope, RFC 3339 (`2024-05-01T12:00:00Z`, with a zone) as Grafana and humans send it.
 * Unlike Pyroscope (which reads a typo as "now"), anything else is an InputError.
 */
export function parseTime(text: string, nowMs: number = Date.now()): number {
  const t = text.trim();
  if (RFC3339.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return ms;
  }
  const s = t.replace(/[_, ]/g, '');
  if (s === '') throw new InputError('time is empty: use now, now-1h, RFC 3339 or Unix seconds/ms/ns');
  if (s.length > 64) throw new InputError(`time "${text.slice(0, 64)}…" is too long`);
  if (/^\d+$/.test(s)) return unixDigits(s);
  const rel = /^(now)?([+-].+)?$/.exec(s);
  if (rel && (rel[1] !== undefined || rel[2] !== undefined)) {
    return nowMs + (rel[2] ? signedOffsetMs(rel[2], text) : 0);
  }
  throw new InputError(`cannot read time "${text.slice(0, 64)}": use now, now-1h, RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds/ms/ns`);
}

/** Both ends parsed against one "now"; `to` before `from` is an InputError (an empty range is allowed). */
export function parseRange(from: string, until: string, nowMs: number = Date.now()): TimeRange {
  const range = { from: parseTime(from, nowMs), to: parseTime(until, nowMs) };
  checkRange(range);
  return range;
}

/** The furthest a JavaScript date reaches either side of 1970 (±100 000 000 days), in ms. */
const MAX_DATE_MS = 8.64e15;

export function checkRange(r: TimeRange): void {
  if (!Number.isFinite(r.from) || !Number.isFinite(r.to)) throw new InputError('time range has a non-finite end');
  // Also what keeps both ends inside the engines' 64-bit integer time columns.
  for (const t of [r.from, r.to]) {
    if (Math.abs(t) > MAX_DATE_MS) throw new InputError(`time ${t} ms is outside the dates a range can name (±${MAX_DATE_MS} ms)`);
  }
  if (r.to < r.from) {
    throw new InputError(
      `time range ends before it starts: until ${new Date(r.to).toISOString()} < from ${new Date(r.from).toISOString()}`,
    );
  }
}

/**
 * Durations: `15s`, `1m`, `1h`, `1d`, `7d`, compound `1h30m`, plus `ms`, `w`, `y`; a bare number is
 * seconds (Pyroscope's `step` is seconds). Returns milliseconds.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return checkDurationMs(Number(s) * 1000, text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length) {
    throw new InputError(`cannot read duration "${text.slice(0, 64)}": use e.g. 15s, 1m, 1h, 1d, 7d, 1h30m`);
  }
  return checkDurationMs(total, text);
}

/** Rounds to whole ms; past 2^53 ms (≈ 285 000 years) no time can be added to it exactly, so it is refused. */
function checkDurationMs(ms: number, text: string): number {
  if (!(ms <= Number.MAX_SAFE_INTEGER)) throw new InputError(`duration "${text.slice(0, 64)}" is too long`);
  return Math.round(ms);
}

/** The short spelling of a duration (`90000` → `1m30s`), for messages and URLs. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const DURATION_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

const RFC3339 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/i;

function unixDigits(s: string): number {
  if (s.length === 8) {
    const y = Number(s.slice(0, 4));
    const mo = Number(s.slice(4, 6));
    const d = Number(s.slice(6, 8));
    // Pyroscope reads a valid-looking 8-digit number as a date, not as seconds in 1970.
    if (y > 1900 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31) return Date.UTC(y, mo - 1, d);
  }
  switch (s.length) {
    case 13:
      return Number(s);
    case 16:
      return Math.floor(Number(BigInt(s) / 1000n));
    case 19:
      return Math.floor(Number(BigInt(s) / 1_000_000n));
    default:
      if (s.length > 19) throw new InputError(`time "${s.slice(0, 32)}" has too many digits for a Unix time`);
      return Number(s) * 1000;
  }
}

/** Graphite offset units by prefix, in seconds (mon before m: `mon` is a month, `m`/`min` a minute). */
function unitSeconds(unit: string): number | undefined {
  if (unit.startsWith('s')) return 1;
  if (unit.startsWith('mon') || unit.startsWith('M')) return 30 * 86_400;
  if (unit.startsWith('min') || unit.startsWith('m')) return 60;
  if (unit.startsWith('h')) return 3600;
  if (unit.startsWith('d')) return 86_400;
  if (unit.startsWith('w')) return 7 * 86_400;
  if (unit.startsWith('y')) return 365 * 86_400;
  return undefined;
}

function signedOffsetMs(offset: string, original: string): number {
  const sign = offset[0] === '-' ? -1 : 1;
  const body = offset.slice(1);
  const re = /(\d+)([A-Za-z]+)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    const unit = unitSeconds(m[2]!);
    if (unit === undefined) throw new InputError(`time "${original.slice(0, 64)}": unknown unit "${m[2]}" (use s, m, h, d, w, mon, y)`);
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  if (body === '' || matched !== body.length) {
    throw new InputError(`cannot read time offset "${original.slice(0, 64)}": use e.g. now-1h, now-15m, now-7d`);
  }
  return sign * total * 1000;
}
