import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { openServerWarning } from '../../src/server/auth.js';
import { needOf } from '../../src/server/auth-context.js';

/** The `auth:` section's checks name the file and the key, as every other section's do. */
const HASH = 'a'.repeat(64);
const entry = (extra: string) => `auth:\n  tokens:\n    - name: t\n      sha256: "${HASH}"\n      tenants: [acme]\n      role: read\n${extra}`;

describe('auth: in kiln.yaml', () => {
  it('reads a token entry exactly as the issue shows it', () => {
    const auth = parseServerConfig(entry(`      scope: '{namespace=~"shop-.*"}'\n`), 'kiln.yaml').auth!;
    expect(auth.tokens[0]).toMatchObject({ name: 't', tenants: ['acme'], role: 'read', scopeText: '{namespace=~"shop-.*"}' });
    expect(auth.tokens[0]!.scope).toEqual([{ name: 'namespace', op: '=~', value: 'shop-.*' }]);
  });

  it.each([
    [entry('      colour: red\n'), /kiln\.yaml: auth\.tokens\[0\]\.colour is not a setting/],
    [entry('').replace('role: read', 'role: root'), /auth\.tokens\[0\]\.role must be one of read, write, admin/],
    [entry('').replace(HASH, 'abc'), /auth\.tokens\[0\]\.sha256 must be 64 hex digits/],
    [entry('').replace('[acme]', '[]'), /auth\.tokens\[0\]\.tenants must list/],
    [entry('').replace('[acme]', '[".."]'), /auth\.tokens\[0\]\.tenants: "\.\." is not a valid tenant/],
    [entry(`      scope: '{namespace=~"("}'\n`), /auth\.tokens\[0\]\.scope/],
    ['auth:\n  tokens: []\n', /auth\.tokens must list at least one token/],
    [`${entry('')}    - name: t\n      sha256: "${'b'.repeat(64)}"\n      tenants: [x]\n      role: read\n`, /"t" is used by another token/],
  ])('refuses a bad entry with file and key (%#)', (yaml, message) => {
    expect(() => parseServerConfig(yaml, 'kiln.yaml')).toThrow(message);
  });
});

describe('what needs a credential', () => {
  it('probes, the UI and unknown paths are open; routes need read unless ingest (write) or /metrics (admin)', () => {
    for (const open of ['/healthz', '/ready', '/', '/*', undefined]) expect(needOf(open), String(open)).toBeUndefined();
    for (const read of ['/api/v1/top', '/pyroscope/render', '/render', '/querier.v1.QuerierService/LabelNames', '/settings.v1.SettingsService/Get', '/any/new/route']) {
      expect(needOf(read), read).toBe('read');
    }
    expect(needOf('/ingest')).toBe('write');
    expect(needOf('/push.v1.PusherService/Push')).toBe('write');
    expect(needOf('/metrics')).toBe('admin');
    expect(needOf('/api/v1/whoami')).toBe('any');
  });
});

describe('start-up warning', () => {
  it('warns for a reachable address without auth:, not for loopback or with auth:', () => {
    expect(openServerWarning('0.0.0.0', false)).toMatch(/anyone who reaches this port/);
    expect(openServerWarning('10.1.2.3', false)).toMatch(/10\.1\.2\.3/);
    expect(openServerWarning('127.0.0.1', false)).toBeUndefined();
    expect(openServerWarning('::1', false)).toBeUndefined();
    expect(openServerWarning('0.0.0.0', true)).toBeUndefined();
  });
});
