import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError } from '../model/errors.js';
import { parseProfileType } from '../model/profile-type.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseSelector } from '../query/selector.js';
import type { StackFilter } from '../query/stacks.js';
import { parseDuration, parseRange } from '../query/time.js';
import type { SeriesQuery } from '../store/store.js';
import type { ServerContext } from './context.js';
import { withHttpDeadline } from './deadline.js';
import { tenantOf } from './tenant.js';

/** Query-string parameters as fastify hands them over (repeated keys become arrays). */
export type QueryParams = Record<string, string | string[] | undefined>;

/** A single-valued query parameter; repeated → the last one wins, as in most HTTP APIs. */
export function param(q: QueryParams, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = q[n];
    if (Array.isArray(v)) return v[v.length - 1];
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Every value of a parameter given as `k=a&k=b` or `k=a,b`. */
export function listParam(q: QueryParams, name: string): string[] {
  const v = q[name];
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function intParam(q: QueryParams, name: string, dflt: number, max: number): number {
  const raw = param(q, name);
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} must be a non-negative integer, got "${raw.slice(0, 40)}"`);
  return Math.min(n, max);
}

/** `true`/`1` or `false`/`0`/absent; anything else is refused rather than read as false. */
export function boolParam(q: QueryParams, name: string): boolean {
  const raw = param(q, name);
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new InputError(`${name} must be true or false, got "${raw.slice(0, 40)}"`);
}

/** Flame graph nodes of the HTTP APIs (Kiln's and the legacy render) when max_nodes is not given. */
const HTTP_DEFAULT_MAX_NODES = 1024;

/**
 * max_nodes from the first of `names` given with a positive value; unset or 0 → the HTTP default,
 * never more than `cap`. (0 must not pass through: to the query engine it means "no limit".)
 */
export function maxNodesParam(q: QueryParams, cap: number, ...names: string[]): number {
  for (const name of names) {
    const n = intParam(q, name, 0, cap);
    if (n > 0) return n;
  }
  return Math.min(HTTP_DEFAULT_MAX_NODES, cap);
}

/**
 * A selection from HTTP parameters: `query` (selector, `type{…}`), optional `profile_type` when the
 * query is only `{…}`, `from`/`until` (default now-1h .. now; every unit Pyroscope accepts). `signal`
 * is the request's deadline (deadline.ts), carried to the store with the query.
 */
export function selectionFrom(req: FastifyRequest, signal: AbortSignal, prefix = ''): { q: SeriesQuery; type: ProfileType } {
  const params = req.query as QueryParams;
  // Prefixed selections come snake_case from Kiln (`base_from`) and camelCase from Pyroscope (`leftFrom`).
  const named = (name: string) => param(params, `${prefix}${name}`, `${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`);
  const text = named('query');
  if (text === undefined || text.trim() === '') throw new InputError(`missing "${prefix}query" parameter (a selector such as process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="app"})`);
  const selector = parseSelector(text, param(params, 'profile_type'));
  const range = parseRange(named('from') ?? 'now-1h', named('until') ?? named('to') ?? 'now');
  return { q: { tenant: tenantOf(req.headers), selector, ...range, signal }, type: parseProfileType(selector.profileType) };
}

/** `focus`, `hide`, `focus_binary`, `hide_binary` (regexes) → the query layer's filter. */
export function filterFrom(params: QueryParams): StackFilter {
  return { focus: param(params, 'focus'), hide: param(params, 'hide'), focusBinary: param(params, 'focus_binary'), hideBinary: param(params, 'hide_binary') };
}

export function stepMsFrom(params: QueryParams, dfltMs: number): number {
  const raw = param(params, 'step');
  const ms = raw === undefined || raw === '' ? dfltMs : parseDuration(raw);
  if (!(ms > 0)) throw new InputError('step must be positive');
  return ms;
}

/**
 * Runs one read route: timed under `endpoint` in the query metrics, with the request's deadline and
 * client-gone signal (deadline.ts) handed to `run`, which passes it to the query layer.
 */
export function httpRead<T>(ctx: ServerContext, endpoint: string, reply: FastifyReply, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return ctx.metrics.timeQuery(endpoint, () => withHttpDeadline(reply, ctx.limits.readDeadlineMs, run));
}
