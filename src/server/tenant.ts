import { InputError } from '../model/errors.js';

/** Header multi-tenant Pyroscope, Loki, Mimir and Tempo read the tenant from. */
export const TENANT_HEADER = 'x-scope-orgid';
/** Tenant of requests without the header (Pyroscope's single-tenant default). */
export const DEFAULT_TENANT = 'anonymous';

const TENANT = /^[a-zA-Z0-9!._*'()-]{1,150}$/;

/**
 * The tenant a request acts for. Charset and length follow the rules Cortex-style systems apply to
 * org ids (safe in paths and keys); `.` and `..` are refused because they are path segments.
 */
export function tenantOf(headers: Readonly<Record<string, string | string[] | undefined>> | Headers): string {
  const raw = headers instanceof Headers ? headers.get(TENANT_HEADER) : headers[TENANT_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === null || value === '') return DEFAULT_TENANT;
  if (value.includes('|')) throw new InputError('X-Scope-OrgID: multi-tenant queries (a|b) are not supported');
  if (!TENANT.test(value) || value === '.' || value === '..') {
    throw new InputError(
      `X-Scope-OrgID "${value.slice(0, 40)}" is not a valid tenant: 1-150 chars of [a-zA-Z0-9!._*'()-], not "." or ".."`,
    );
  }
  return value;
}
