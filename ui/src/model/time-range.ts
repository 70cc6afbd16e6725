/**
 * Time ranges as the user typed them: `now`, `now-1h` (units s m h d w) or Unix milliseconds.
 * Relative ranges stay relative in the URL, so a shared link shows "the last hour" when opened.
 */
export const PRESETS = ['15m', '1h', '6h', '24h', '7d'] as const;

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function resolveTime(spec: string, now: number): number {
  const s = spec.trim();
  if (s === 'now') return now;
  const rel = /^now-(\d+(?:\.\d+)?)([smhdw])$/.exec(s);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d{9,}$/.test(s)) return Number(s);
  const parsed = Date.parse(s);
  if (!Number.isNaN(parsed)) return parsed;
  throw new Error(`"${spec}" is not a time (use now, now-1h, or milliseconds since the epoch)`);
}

export function resolveRange(from: string, until: string, now = Date.now()): { start: number; end: number } {
  const start = resolveTime(from, now);
  const end = resolveTime(until, now);
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

export function describeRange(from: string, until: string): string {
  const rel = /^now-(\d+[smhdw])$/.exec(from);
  if (rel && until === 'now') return `last ${rel[1]}`;
  const fmt = (s: string) => {
    try {
      return new Date(resolveTime(s, Date.now())).toISOString().replace('T', ' ').slice(0, 19);
    } catch {
      return s;
    }
  };
  return `${fmt(from)} → ${fmt(until)} UTC`;
}
