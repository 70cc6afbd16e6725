import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { ServerConfig } from '../../src/config/server-config.js';
import { parseServerConfig } from '../../src/config/server-config.js';

/** Tokens of the auth tests, as a user would write them in kiln.yaml (hashes only). */
export const TOKENS = {
  admin: 'kiln_admin_0123456789abcdef',
  shop: 'kiln_shop_0123456789abcdef',
  writer: 'kiln_writer_0123456789abcdef',
  other: 'kiln_other_0123456789abcdef',
} as const;

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

export const AUTH_YAML = `
auth:
  tokens:
    - name: ops
      sha256: "${hash(TOKENS.admin)}"
      tenants: [acme, other]
      role: admin
    - name: shop-team
      sha256: "${hash(TOKENS.shop)}"
      tenants: [acme]
      role: read
      scope: '{namespace=~"shop-.*"}'
    - name: agents
      sha256: "${hash(TOKENS.writer)}"
      tenants: [acme]
      role: write
    - name: other-team
      sha256: "${hash(TOKENS.other)}"
      tenants: [other]
      role: read
`;

export function authConfig(yaml = AUTH_YAML): ServerConfig {
  return parseServerConfig(yaml, 'kiln.yaml');
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const basic = (user: string, token: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`,
});

/** An answer as text, gunzipped when it is a gzipped export, so a leak is found whatever the format. */
export async function answerText(res: Response): Promise<string> {
  const bytes = Buffer.from(await res.arrayBuffer());
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('latin1') : bytes.toString('latin1');
}
