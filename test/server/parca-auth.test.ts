import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import type { Client } from '@connectrpc/connect';
import { createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { QueryServiceClient } from '@parca/client';
import { GrpcWebFetchTransport } from '@protobuf-ts/grpcweb-transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileStoreService } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { TOKENS, authConfig, basic, bearer } from './auth-support.js';

/**
 * The settings docs/PARCA.md gives, on a Kiln server with `auth:`: parca-agent's
 * --remote-store-bearer-token (gRPC metadata), the Parca UI's gRPC-web calls under /api, and
 * Grafana's Parca data source with basic auth (tenant as user, token as password) at the root.
 */
let srv: TestServer;
const FIB = () => path.join(requireTestdata('pprof'), 'parca-fib.pb.gz');
const series = () => [{
  labels: { labels: [{ name: '__name__', value: 'parca_agent_cpu' }, { name: 'node', value: 'node-1' }, { name: 'namespace', value: 'shop-web' }] },
  samples: [{ rawProfile: readFileSync(FIB()) }],
}];
const codeOf = async (p: Promise<unknown>): Promise<Code | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
};

beforeAll(async () => {
  const config = authConfig();
  srv = await startTestServer({ config: () => config });
});
afterAll(async () => {
  await srv?.close();
});

describe('Parca services behind Kiln tokens', () => {
  it('WriteRaw takes a write token as parca-agent sends it, and refuses none or a read token', async () => {
    const store: Client<typeof ProfileStoreService> = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
    expect(await codeOf(store.writeRaw({ series: series() }))).toBe(Code.Unauthenticated);
    expect(await codeOf(store.writeRaw({ series: series() }, { headers: bearer(TOKENS.shop) }))).toBe(Code.PermissionDenied);
    expect(await codeOf(store.writeRaw({ series: series() }, { headers: bearer(TOKENS.writer) }))).toBeUndefined();
    // Ingest has one path: under the UI's /api prefix it does not exist, so no read token writes there.
    const underApi = createClient(ProfileStoreService, createGrpcWebTransport({ baseUrl: `${srv.url}/api`, httpVersion: '1.1' }));
    expect(await codeOf(underApi.writeRaw({ series: series() }, { headers: bearer(TOKENS.shop) }))).not.toBeUndefined();
  });

  it('@parca/client reads with a bearer token under /api and with basic auth at the root; the wrong tenant sees nothing', async () => {
    const ui = new QueryServiceClient(new GrpcWebFetchTransport({ baseUrl: `${srv.url}/api`, format: 'binary' }));
    await expect(ui.profileTypes({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const { response: mine } = await ui.profileTypes({}, { meta: bearer(TOKENS.shop) });
    expect(mine.types.map((t) => t.name)).toContain('parca_agent_cpu');

    const grafana = new QueryServiceClient(new GrpcWebFetchTransport({ baseUrl: srv.url, format: 'binary' }));
    const { response: viaBasic } = await grafana.labels({ match: [] }, { meta: basic('acme', TOKENS.shop) });
    expect(viaBasic.labelNames).toEqual(expect.arrayContaining(['namespace', 'node']));
    const { response: theirs } = await grafana.profileTypes({}, { meta: basic('other', TOKENS.other) });
    expect(theirs.types).toEqual([]);
  });
});
