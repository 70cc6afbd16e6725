import Pyroscope from '@pyroscope/nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { TOKENS, authConfig, bearer } from './auth-support.js';
import { ALL_TIME, querier } from './helpers.js';

/**
 * The real @pyroscope/nodejs SDK configured as for hosted Pyroscope (basic auth: tenant as user, token
 * as password) pushes to a Kiln server with auth: — the write token is accepted for its tenant.
 */
let srv: TestServer;
beforeAll(async () => {
  const config = authConfig();
  srv = await startTestServer({ config: () => config });
});
afterAll(async () => {
  await srv?.close();
});

describe('a Pyroscope SDK with basic auth', () => {
  it('ingests into the tenant named as user with a write token; the data is readable by a read token of that tenant only', async () => {
    Pyroscope.init({
      serverAddress: srv.url,
      appName: 'sdk-with-auth',
      basicAuthUser: 'acme',
      basicAuthPassword: TOKENS.writer,
      flushIntervalMs: 60_000,
      wall: { samplingDurationMs: 60_000 },
    });
    Pyroscope.start();
    // Busy stretches with short breaths, as in pyroscope-nodejs.test.ts: the sampler needs the event
    // loop now and then, and a mostly idle loop gave profiles with nothing to store.
    let x = 0;
    for (let round = 0; round < 10; round++) {
      const end = Date.now() + 150;
      while (Date.now() < end) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Pyroscope.stop();
    expect(x).toBeGreaterThan(0);
    // stop() flushes; give the upload a few seconds to land on a loaded machine before judging.
    let acme = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME }, bearer(TOKENS.admin));
    for (let i = 0; i < 50 && !(acme.body.names ?? []).includes('sdk-with-auth'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      acme = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME }, bearer(TOKENS.admin));
    }
    expect(acme.body.names ?? []).toContain('sdk-with-auth');
    const other = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME }, bearer(TOKENS.other));
    expect(other.status).toBe(200);
    expect(other.body.names ?? []).not.toContain('sdk-with-auth');
    const metrics = await (await fetch(`${srv.url}/metrics`, { headers: bearer(TOKENS.admin) })).text();
    expect(metrics).toMatch(/kiln_auth_requests_total\{token="agents"\} [1-9]/);
  }, 60_000);
});
