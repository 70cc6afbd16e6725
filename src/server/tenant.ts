import { InputError } from '../model/errors.js';
import { currentAccess } from './auth-context.js';

/** Header multi-tenant Pyroscope, Loki, Mimir and Tempo read the tenant from. */
export const TENANT_HEADER = 'x-scope-orgid';
/** Tenant of requests without the header (Pyroscope's single-tenant default). */
export const DEFAULT_TENANT = 'anonymous';

const TENANT = /^[a-zA-Z0-9!._*'()-]{1,150}$/;

/**
 * Charset and length follow the rules Cortex-style systems apply to org ids (safe in paths and keys);
 * `.` and `..` are refused because they are path segments.
 */
export function validTenant(value: string): boolean {
  return TENANT.test(value) && value !== '.' && value !== '..';
}

export type HeaderBag = Readonly<Record<string, string | string[] | undefined>> | Headers;

/** The X-Scope-OrgID header as sent ('' when absent), checked. */
export function tenantHeader(headers: HeaderBag): string {
  const raw = headers instanceof Headers ? headers.get(TENANT_HEADER) : headers[TENANT_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === null || value === '') return '';
  if (value.includes('|')) throw new InputError('X-Scope-OrgID: multi-tenant queries (a|b) are not supported');
  if (!validTenant(value)) {
    throw new InputError(
      `X-Scope-OrgID "${value.slice(0, 40)}" is not a valid tenant: 1-150 chars of [a-zA-Z0-9!._*'()-], not "." or ".."`,
    );
  }
  return value;
}

/**
 * The tenant a request acts for. With `auth:` configured the edge (auth-context.ts) has already
 * chosen it among the tenants the credential grants, and that choice is the answer; without, the
 * header says it, as in Pyroscope.
 */
export function tenantOf(headers: HeaderBag): string {
  const access = currentAccess();
  if (access) return access.tenant;
  return tenantHeader(headers) || DEFAULT_TENANT;
}
