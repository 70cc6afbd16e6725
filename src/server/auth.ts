import { createHash, timingSafeEqual } from 'node:crypto';
import type { Matcher } from '../model/matcher.js';
import { PermissionDenied, Unauthenticated } from '../model/errors.js';
import type { AuthConfig, Role, TokenEntry } from './auth-config.js';
import type { HeaderBag } from './tenant.js';
import { tenantHeader } from './tenant.js';

/** What a request is allowed to do once authenticated: built once at the edge, read by tenantOf and the query layer. */
export interface Access {
  /** The token's name (logs, /metrics, the UI); never the token. */
  readonly principal: string;
  readonly role: Role;
  readonly tenant: string;
  readonly tenants: readonly string[];
  /** ANDed into every read (src/query/scoped-store.ts). */
  readonly scope: readonly Matcher[];
  readonly scopeText?: string;
}

/** What a route needs: a read (queries, listings, exports), a write (ingest), or admin (/metrics, settings writes). */
export type Need = 'read' | 'write' | 'admin';

const ALLOWED: Record<Need, readonly Role[]> = { read: ['read', 'admin'], write: ['write', 'admin'], admin: ['admin'] };

interface Credential {
  readonly token: string;
  /** Basic auth's user name: the tenant (hosted Pyroscope's convention), or the token's own name. */
  readonly user?: string;
}

/** Reads `Authorization: Bearer …` or `Basic base64(tenant:token)`; undefined when absent. */
export function credentialOf(headers: HeaderBag): Credential | undefined {
  const raw = headers instanceof Headers ? headers.get('authorization') : headers['authorization'];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  const space = value.indexOf(' ');
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : value.slice(space + 1).trim();
  if (scheme === 'bearer' && rest !== '') return { token: rest };
  if (scheme === 'basic' && rest !== '') {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0 && colon < decoded.length - 1) return { user: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
  }
  throw new Unauthenticated('the Authorization header must be "Bearer <token>" or Basic with the tenant as user and the token as password', 'malformed');
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The entry whose hash is the token's. Every entry is compared, each in constant time, and the loop
 * does not stop at a match: how long this takes says nothing about which bytes, or which entry, matched.
 */
function findToken(auth: AuthConfig, token: string): TokenEntry | undefined {
  const digest = sha256(token);
  let found: TokenEntry | undefined;
  for (const entry of auth.tokens) {
    if (timingSafeEqual(digest, entry.sha256) && found === undefined) found = entry;
  }
  return found;
}

/**
 * Who is asking, for which tenant, with what scope — or a typed 401/403. The tenant is the
 * X-Scope-OrgID header, else basic auth's user name (unless it is the token's name), else the first
 * granted tenant; whichever is asked for must be granted.
 */
export function authenticate(auth: AuthConfig, headers: HeaderBag, need: Need): Access {
  const cred = credentialOf(headers);
  if (!cred) throw new Unauthenticated('this server requires a token: send "Authorization: Bearer <token>" (or basic auth, tenant as user, token as password)', 'missing');
  const entry = findToken(auth, cred.token);
  if (!entry) throw new Unauthenticated('the token is not known to this server', 'unknown_token');
  const asked = tenantHeader(headers) || (cred.user !== undefined && cred.user !== entry.name ? cred.user : '');
  const tenant = asked || entry.tenants[0]!;
  if (!entry.tenants.includes(tenant)) {
    throw new PermissionDenied(`token "${entry.name}" is not granted tenant "${tenant.slice(0, 150)}" (it may use: ${entry.tenants.join(', ')})`, 'tenant');
  }
  if (!ALLOWED[need].includes(entry.role)) {
    const what = need === 'write' ? 'ingest' : need === 'admin' ? 'read server metrics or change settings (admin only)' : 'read profiles';
    throw new PermissionDenied(`token "${entry.name}" has role ${entry.role} and may not ${what}`, 'role');
  }
  return { principal: entry.name, role: entry.role, tenant, tenants: entry.tenants, scope: entry.scope, scopeText: entry.scopeText };
}

/** Addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** The start-up (and reload) warning of a server anyone who reaches it may read and write; undefined when there is nothing to say. */
export function openServerWarning(host: string, hasAuth: boolean): string | undefined {
  if (hasAuth || isLoopback(host)) return undefined;
  return `WARNING: no auth: section in the config and listening on ${host}: anyone who reaches this port can read and write every tenant's profiles. Add tokens (kiln token create --name …, docs/SECURITY.md) or pass --host 127.0.0.1`;
}
