import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config/server-config.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { AUTH_YAML, TOKENS, answerText, authConfig, basic, bearer } from './auth-support.js';
import { CPU } from './helpers.js';

/**
 * Every endpoint × every kind of credential, against a real server with `auth:` in its config: the
 * status each must get, and that a scoped token's answers never name what lies outside its scope.
 *
 * Data: tenant acme holds shop-cart (namespace shop-a, function shopCartFn) and bank-ledger
 * (namespace bank, label secretlabel=classified, function secretBankFn), both of team core; tenant other holds other-svc
 * (namespace shop-x — inside the shop scope's matchers, but another tenant's).
 */
let srv: TestServer;
let live: ServerConfig = authConfig();
const T = Date.now() - 5 * 60_000;
const sec = (ms: number) => String(Math.floor(ms / 1000));
const Q = `${CPU}{}`;
const range = { start: String(T - 3_600_000), end: String(Date.now() + 60_000) };
const win = { from: sec(T - 3_600_000), until: sec(Date.now() + 60_000) };
/** What no answer to the shop token may contain: the bank's names and values, and the other tenant's. */
const OUTSIDE_SHOP = /bank|secret|classified|otherTenant|other-svc/i;
/** What the admin sees, proving each endpoint would reveal it if the scope were not applied. */
const BANK = /bank|secret/i;

type Call = (headers: Record<string, string>) => Promise<Response>;

const get =
  (path: string, params: Record<string, string> = {}): Call =>
  (headers) =>
    fetch(`${srv.url}${path}?${new URLSearchParams(params)}`, { headers });
const connect =
  (method: string, body: unknown, service = 'querier.v1.QuerierService'): Call =>
  (headers) =>
    fetch(`${srv.url}/${service}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const sel = { profileTypeID: CPU, labelSelector: '{}', ...range };
/** Parca's QueryService takes google.protobuf.Timestamp, RFC 3339 in JSON. */
const parcaRange = { start: new Date(Number(range.start)).toISOString(), end: new Date(Number(range.end)).toISOString() };
/** Reads, and whether the admin's answer names the bank (false: the answer holds no names, e.g. time bounds). */
const READS: [string, Call, boolean][] = [
  ['querier ProfileTypes', connect('ProfileTypes', range), false],
  ['querier LabelNames', connect('LabelNames', { matchers: [], ...range }), true],
  ['querier LabelValues namespace', connect('LabelValues', { name: 'namespace', matchers: [], ...range }), true],
  ['querier LabelValues secretlabel', connect('LabelValues', { name: 'secretlabel', matchers: [], ...range }), false],
  ['querier Series', connect('Series', { matchers: [], labelNames: [], ...range }), true],
  ['querier SelectMergeStacktraces', connect('SelectMergeStacktraces', sel), true],
  ['querier SelectMergeProfile', connect('SelectMergeProfile', sel), true],
  ['querier SelectSeries', connect('SelectSeries', { ...sel, step: 60, groupBy: ['service_name'] }), true],
  ['querier Diff', connect('Diff', { left: sel, right: sel }), true],
  ['querier GetProfileStats', connect('GetProfileStats', {}), false],
  ['parca Labels', connect('Labels', parcaRange, 'parca.query.v1alpha1.QueryService'), true],
  ['parca Values namespace', connect('Values', { labelName: 'namespace', ...parcaRange }, 'parca.query.v1alpha1.QueryService'), true],
  ['/pyroscope/render', get('/pyroscope/render', { query: Q, ...win }), true],
  ['/render', get('/render', { query: Q, ...win }), true],
  ['/pyroscope/labels', get('/pyroscope/labels', { query: Q, ...win }), true],
  ['/pyroscope/label-values', get('/pyroscope/label-values', { label: 'service_name', query: Q, ...win }), true],
  ['/api/v1/top', get('/api/v1/top', { query: Q, ...win }), true],
  ['/api/v1/flamegraph', get('/api/v1/flamegraph', { query: Q, ...win }), true],
  ['/api/v1/flamegraph folded export', get('/api/v1/flamegraph', { query: Q, ...win, format: 'folded' }), true],
  ['/api/v1/flamegraph pprof export', get('/api/v1/flamegraph', { query: Q, ...win, format: 'pprof' }), true],
  ['/api/v1/diff', get('/api/v1/diff', { base_query: Q, head_query: Q, base_from: win.from, head_from: win.from }), true],
  ['/api/v1/series', get('/api/v1/series', { query: Q, ...win, group_by: 'service_name' }), true],
  ['/api/v1/sandwich', get('/api/v1/sandwich', { query: Q, ...win, function: 'main' }), true],
  ['/api/v1/services', get('/api/v1/services', win), true],
  ['/api/v1/compare', get('/api/v1/compare', { base_query: Q, head_query: Q, base_from: win.from, head_from: win.from }), true],
  ['/api/v1/summary', get('/api/v1/summary', { query: Q, ...win }), true],
  ['/api/v1/report', get('/api/v1/report', { team: 'core', ...win }), true],
];

const folded = (name: string, body: string): Call => (headers) =>
  fetch(`${srv.url}/ingest?${new URLSearchParams({ name, format: 'folded', profile_type: CPU, from: sec(T), until: sec(T + 10_000) })}`, {
    method: 'POST',
    headers,
    body,
  });
const WRITES: [string, Call][] = [
  ['/ingest', folded('shop-extra{namespace=shop-b}', 'main;extraFn 1\n')],
  ['push.v1 Push', connect('Push', { series: [] }, 'push.v1.PusherService')],
  ['parca WriteRaw', connect('WriteRaw', { series: [] }, 'parca.profilestore.v1alpha1.ProfileStoreService')],
  ['OTLP/HTTP', (headers) => fetch(`${srv.url}/v1development/profiles`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })],
];

const CREDENTIALS: Record<string, Record<string, string>> = {
  none: {},
  'wrong token': bearer('kiln_not_a_token_of_this_server'),
  'another tenant (asks for acme)': { ...bearer(TOKENS.other), 'x-scope-orgid': 'acme' },
  'write-only token': bearer(TOKENS.writer),
  'scoped token': bearer(TOKENS.shop),
  'scoped token, basic auth as Grafana sends it': basic('acme', TOKENS.shop),
  admin: bearer(TOKENS.admin),
};
const READ_STATUS: Record<string, number> = {
  none: 401,
  'wrong token': 401,
  'another tenant (asks for acme)': 403,
  'write-only token': 403,
  'scoped token': 200,
  'scoped token, basic auth as Grafana sends it': 200,
  admin: 200,
};
const WRITE_STATUS: Record<string, number> = { ...READ_STATUS, 'write-only token': 200, 'scoped token': 403, 'scoped token, basic auth as Grafana sends it': 403 };

beforeAll(async () => {
  srv = await startTestServer({ config: () => live });
  const admin = bearer(TOKENS.admin);
  const put = async (name: string, body: string, tenant: string) => {
    const res = await folded(name, body)({ ...admin, 'x-scope-orgid': tenant });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  await put('shop-cart{namespace=shop-a,team=core}', 'main;shopCartFn 10\n', 'acme');
  await put('bank-ledger{namespace=bank,secretlabel=classified,team=core}', 'main;secretBankFn 20\n', 'acme');
  await put('other-svc{namespace=shop-x}', 'main;otherTenantFn 5\n', 'other');
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

describe('every read endpoint × every credential', () => {
  for (const [endpoint, call, reveals] of READS) {
    it(endpoint, async () => {
      for (const [who, headers] of Object.entries(CREDENTIALS)) {
        const res = await call(headers);
        const text = await answerText(res);
        expect(res.status, `${who}: ${text.slice(0, 200)}`).toBe(READ_STATUS[who]);
        if (res.status === 401) expect(text, who).not.toContain('kiln_');
        if (who.startsWith('scoped')) expect(text, `${who} sees outside its scope`).not.toMatch(OUTSIDE_SHOP);
        if (who === 'admin' && reveals) expect(text, 'admin sees the bank (else this endpoint proves nothing)').toMatch(BANK);
      }
    }, 30_000);
  }

  it('the scoped token still sees its own series: names, values and stacks', async () => {
    const headers = bearer(TOKENS.shop);
    expect(await answerText(await get('/api/v1/flamegraph', { query: Q, ...win, format: 'folded' })(headers))).toContain('main;shopCartFn 10');
    const values = await connect('LabelValues', { name: 'namespace', matchers: [], ...range })(headers);
    expect(await values.json()).toEqual({ names: ['shop-a'] });
  });

  it('a token of another tenant reads its own tenant by default, and nothing of acme', async () => {
    const text = await answerText(await get('/api/v1/flamegraph', { query: Q, ...win, format: 'folded' })(bearer(TOKENS.other)));
    expect(text).toContain('otherTenantFn');
    expect(text).not.toMatch(/shopCart|bank/i);
  });

  it('basic auth with a tenant the token is not granted → 403', async () => {
    const res = await get('/api/v1/top', { query: Q, ...win })(basic('other', TOKENS.shop));
    expect(res.status).toBe(403);
  });
});

describe('ingest endpoints × every credential', () => {
  for (const [endpoint, call] of WRITES) {
    it(endpoint, async () => {
      for (const [who, headers] of Object.entries(CREDENTIALS)) {
        const res = await call(headers);
        expect(res.status, `${who}: ${(await res.text()).slice(0, 200)}`).toBe(WRITE_STATUS[who]);
      }
    }, 30_000);
  }
});

describe('operations', () => {
  it('/healthz and /ready stay open; /metrics is for admin tokens and counts failures per reason without the token', async () => {
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${srv.url}/ready`)).status).toBe(200);
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${srv.url}/metrics`, { headers: bearer(TOKENS.shop) })).status).toBe(403);
    const res = await fetch(`${srv.url}/metrics`, { headers: bearer(TOKENS.admin) });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const reason of ['missing', 'unknown_token', 'tenant', 'role']) {
      expect(Number(new RegExp(`kiln_auth_failures_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0), reason).toBeGreaterThan(0);
    }
    expect(text).toMatch(/kiln_auth_requests_total\{token="shop-team"\} [1-9]/);
    expect(text).not.toContain('kiln_not_a_token');
  });

  it('whoami names the principal, tenant and scope (the UI shows it)', async () => {
    const res = await fetch(`${srv.url}/api/v1/whoami`, { headers: bearer(TOKENS.shop) });
    expect(await res.json()).toEqual({ auth: true, principal: 'shop-team', role: 'read', tenant: 'acme', tenants: ['acme'], scope: '{namespace=~"shop-.*"}' });
    expect((await fetch(`${srv.url}/api/v1/whoami`)).status).toBe(401);
  });

  it('a route spelled differently in the URL (percent-encoded, trailing slash) still needs a credential', async () => {
    for (const p of ['/%61pi/v1/top', '/api/v1/%74op', '/api/v1/top/', '/pyroscope/render/', '/%70yroscope/render']) {
      const res = await fetch(`${srv.url}${p}?${new URLSearchParams({ query: Q, ...win })}`);
      expect(res.status, p).toBeOneOf([401, 404]);
      expect(await res.text(), p).not.toMatch(/shopCart|bank/i);
    }
    const rpc = await connect('%4CabelNames', { matchers: [], ...range })({});
    expect(rpc.status).toBeOneOf([401, 404]);
  });

  it('a malformed Authorization header is 401, not 500', async () => {
    expect((await get('/api/v1/top', { query: Q })({ authorization: 'Token abc' })).status).toBe(401);
    expect((await get('/api/v1/top', { query: Q })({ authorization: 'Basic !!!' })).status).toBe(401);
  });

  it('a reloaded config applies to the next request: a removed token is refused at once', async () => {
    const before = live;
    try {
      live = authConfig(AUTH_YAML.replace(/    - name: shop-team[\s\S]*?scope: .*\n/, ''));
      expect((await get('/api/v1/top', { query: Q, ...win })(bearer(TOKENS.shop))).status).toBe(401);
      expect((await get('/api/v1/top', { query: Q, ...win })(bearer(TOKENS.admin))).status).toBe(200);
    } finally {
      live = before;
    }
  });
});
