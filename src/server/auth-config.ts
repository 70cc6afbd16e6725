import { InputError } from '../model/errors.js';
import type { Matcher } from '../model/matcher.js';
import { Section } from '../insight/yaml-section.js';
import { parseMatchers } from '../query/selector.js';
import { validTenant } from './tenant.js';

/**
 * The `auth:` section of kiln.yaml. With it, every API wants a credential; without it the server is
 * open, as Pyroscope and Parca are (docs/SECURITY.md).
 *
 *   auth:
 *     tokens:
 *       - name: shop-team                    # shown in logs, /metrics and the UI
 *         sha256: "<hex sha256 of the bearer token>"
 *         tenants: [acme]
 *         role: read                         # read | write (ingest only) | admin
 *         scope: '{namespace=~"shop-.*"}'    # optional; ANDed into every read of this token
 *
 * Only hashes are stored: a leaked config file does not leak a credential.
 */
export interface AuthConfig {
  readonly tokens: readonly TokenEntry[];
}

export type Role = 'read' | 'write' | 'admin';
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export interface TokenEntry {
  readonly name: string;
  /** The token's SHA-256, 32 bytes. */
  readonly sha256: Buffer;
  /** Granted tenants; the first is the one a request without a tenant acts for. */
  readonly tenants: readonly string[];
  readonly role: Role;
  /** Matchers ANDed into every read ([] = the whole tenant). */
  readonly scope: readonly Matcher[];
  /** The scope as written, for the UI's "signed in as" line. */
  readonly scopeText?: string;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export function authSection(v: unknown, file: string): AuthConfig {
  const s = Section.of(v, file, 'auth');
  s.allowOnly(['tokens']);
  const items = s.sections('tokens');
  // An auth section that grants nobody would lock everyone out: surely an unfinished edit.
  if (items.length === 0) throw new InputError(`${s.where('tokens')} must list at least one token (kiln token create --name … prints an entry)`);
  const names = new Set<string>();
  const hashes = new Set<string>();
  const tokens = items.map((t) => {
    t.allowOnly(['name', 'sha256', 'tenants', 'role', 'scope']);
    const name = t.requiredString('name');
    if (names.has(name)) throw new InputError(`${t.where('name')}: "${name}" is used by another token; names identify tokens in logs and /metrics`);
    names.add(name);
    const hex = t.requiredString('sha256');
    if (!HEX_SHA256.test(hex)) throw new InputError(`${t.where('sha256')} must be 64 hex digits (the SHA-256 of the token, as kiln token create prints it)`);
    if (hashes.has(hex.toLowerCase())) throw new InputError(`${t.where('sha256')}: the same token is listed twice`);
    hashes.add(hex.toLowerCase());
    const tenants = t.stringList('tenants');
    if (!tenants || tenants.length === 0) throw new InputError(`${t.where('tenants')} must list the tenants this token may use, e.g. [acme]`);
    for (const tenant of tenants) if (!validTenant(tenant)) throw new InputError(`${t.where('tenants')}: "${tenant}" is not a valid tenant id`);
    const role = t.requiredString('role');
    if (!(ROLES as readonly string[]).includes(role)) throw new InputError(`${t.where('role')} must be one of ${ROLES.join(', ')}, got "${role}"`);
    const scopeText = t.string('scope');
    let scope: Matcher[] = [];
    if (scopeText !== undefined) {
      try {
        scope = parseMatchers(scopeText);
      } catch (e) {
        throw new InputError(`${t.where('scope')}: ${(e as Error).message}`);
      }
    }
    return { name, sha256: Buffer.from(hex, 'hex'), tenants, role: role as Role, scope, scopeText } satisfies TokenEntry;
  });
  return { tokens };
}
