import { parseTime } from '../../../src/query/time.js';

/**
 * Time ranges as the user typed them (`now`, `now-1h`, Unix seconds or ms, RFC 3339), read by the server's
 * own parser (src/query/time.ts), so a range in a link means the same on the page, in the API and in the CLI.
 * Relative ranges stay relative in the URL, so a shared link shows "the last hour" when opened.
 */
export const PRESETS = ['15m', '1h', '6h', '24h', '7d'] as const;

export function resolveRange(from: string, until: string, now = Date.now()): { start: number; end: number } {
  const start = parseTime(from, now);
  const end = parseTime(until, now);
  // The server accepts an empty range; the page has nothing to draw over one, so it asks for a fix instead.
  if (!(end > start)) throw new Error(`the range ends (${until}) before it starts (${from})`);
  return { start, end };
}

/**
 * Chart resolution: about 240 points over the range, in whole multiples of 10 s — the agent's push
 * interval. A step that is not a multiple (1 h / 240 = 15 s) would catch one push in some buckets and
 * two in others, drawing a steady load as a saw-tooth.
 */
export function stepSeconds(start: number, end: number): number {
  return Math.max(10, Math.ceil((end - start) / 1000 / 240 / 10) * 10);
}

/** "last 6h" for `now-6h … now`, else both ends in UTC. */
export function describeRange(from: string, until: string): string {
  const relative = /^now-(\d+[smhdw])$/.exec(from);
  if (relative && until === 'now') return `last ${relative[1]}`;
  const fmt = (s: string) => {
    try {
      return new Date(parseTime(s)).toISOString().replace('T', ' ').slice(0, 19);
    } catch {
      return s;
    }
  };
  return `${fmt(from)} → ${fmt(until)} UTC`;
}
