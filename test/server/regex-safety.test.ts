import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest } from './helpers.js';
import { cpuTimed } from './limits-cpu.js';

/**
 * A selector regex is user input evaluated against stored label values. With a backtracking RegExp,
 * `{v=~"(a+)+$"}` against a stored `aaa…a!` (30 a's) held the event loop for ~40 s: every request of
 * every tenant waited. Matchers are RE2 in linear time now; this proves it through the HTTP API.
 * Requests are timed in this process's CPU time (the server runs in it: limits-cpu.ts), not wall time,
 * which on a loaded machine grows with the load; 40 s of backtracking is 40 s of CPU at any load.
 */
let srv: TestServer;
const T = Date.UTC(2026, 0, 8, 12, 0, 0);
const sec = (ms: number) => String(Math.floor(ms / 1000));
const window = { from: sec(T - 60_000), until: sec(T + 3_600_000) };
const POISON = `${'a'.repeat(30)}!`;

beforeAll(async () => {
  srv = await startTestServer();
  const put = async (name: string, body: string) => {
    const res = await ingest(srv.url, { name, format: 'folded', profile_type: CPU, from: sec(T), until: sec(T + 10_000) }, body);
    expect(res.status, await res.clone().text()).toBe(200);
  };
  await put(`poison{v=${POISON}}`, 'main;work 7\n');
  await put('other{v=b}', 'main;idle 3\n');
});
afterAll(async () => {
  await srv?.close();
});

interface Timed {
  status: number;
  body: unknown;
  /** CPU time of this process (client and server, every thread) while the request ran. */
  cpuMs: number;
}

async function timedGet(path: string, params: Record<string, string> = {}): Promise<Timed> {
  const { value, cpuMs } = await cpuTimed(async () => {
    const res = await fetch(`${srv.url}${path}?${new URLSearchParams(params)}`);
    return { status: res.status, body: (await res.json()) as unknown };
  });
  return { ...value, cpuMs };
}

const top = (query: string) => timedGet('/api/v1/top', { query, ...window });

describe('selector regexes cannot stall the server', () => {
  it('answers {v=~"(a+)+$"} against a stored aaa…a! promptly, while another endpoint keeps answering', async () => {
    // The stored value is really there, and reachable by a regex that matches it.
    const matching = await top(`${CPU}{v=~"(a+)+!"}`);
    expect(matching.status, JSON.stringify(matching.body)).toBe(200);
    expect((matching.body as { total: number }).total).toBe(7);

    const slow = top(`${CPU}{v=~"(a+)+$"}`);
    // Requests to another endpoint while the regex query is in flight.
    const pings: Timed[] = [];
    for (let i = 0; i < 5; i++) pings.push(await timedGet('/pyroscope/label-values', { label: 'v', ...window }));
    const answer = await slow;

    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ total: 0, entries: [] });
    // The old backtracking matcher took ~40 s here; RE2 takes well under a millisecond per series.
    expect(answer.cpuMs).toBeLessThan(2000);
    for (const p of pings) {
      expect(p.status).toBe(200);
      expect(p.body).toEqual([POISON, 'b']);
      expect(p.cpuMs).toBeLessThan(2000);
    }

    const negated = await top(`${CPU}{v!~"(a+)+$"}`);
    expect((negated.body as { total: number }).total).toBe(10);
    expect(negated.cpuMs).toBeLessThan(2000);
  });

  it('a pattern RE2 refuses is a 400 naming the pattern, not a 500 later', async () => {
    const backref = await top(`${CPU}{v=~"(a)\\\\1"}`);
    expect(backref.status).toBe(400);
    expect((backref.body as { error: string }).error).toMatch(/regex "\(a\)\\\\1" is not valid RE2: .*no backreferences/);
    const lookahead = await top(`${CPU}{v=~"a+(?=!)"}`);
    expect(lookahead.status).toBe(400);
    expect((lookahead.body as { error: string }).error).toMatch(/invalid regex for label "v".*lookahead `\(\?=`/);
  });
});
