import path from 'node:path';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { ProfileStoreService } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { querier } from './helpers.js';

/** What docs/PARCA.md promises about a WriteRaw Kiln cannot take: refused whole, with the reason. */
let srv: TestServer;
const FIB = () => path.join(requireTestdata('pprof'), 'parca-fib.pb.gz');
const series = (job: string, raws: Uint8Array[]) => [{
  labels: { labels: [{ name: '__name__', value: 'parca_agent_cpu' }, { name: 'job', value: job }] },
  samples: raws.map((rawProfile) => ({ rawProfile })),
}];
const failure = async (p: Promise<unknown>): Promise<ConnectError | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e);
  }
};

beforeAll(async () => {
  // The fib profile decompresses to a few KiB: a 16 KiB budget takes it and refuses a bigger one.
  const config = parseServerConfig('limits:\n  max_decompressed: 16KiB\n', 'kiln.yaml');
  srv = await startTestServer({ config: () => config });
});
afterAll(async () => {
  await srv?.close();
});

describe('WriteRaw refusals', () => {
  it('a request with one undecodable profile stores none of its profiles', async () => {
    const store = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
    expect(gunzipSync(readFileSync(FIB())).length).toBeLessThan(16 * 1024);
    const err = await failure(store.writeRaw({ series: series('mixed', [readFileSync(FIB()), new Uint8Array([0x0a, 0xff, 0xff])]) }));
    expect(err?.code).toBe(Code.InvalidArgument);
    const values = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'job', start: '0', end: String(Date.now() + 86_400_000) });
    expect(values.body.names ?? []).not.toContain('mixed');
    // The good profile alone goes in.
    expect(await failure(store.writeRaw({ series: series('good', [readFileSync(FIB())]) }))).toBeUndefined();
    const after = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'job', start: '0', end: String(Date.now() + 86_400_000) });
    expect(after.body.names).toEqual(['good']);
  });

  it('a profile past limits.max_decompressed is ResourceExhausted, giving the limit', async () => {
    const store = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
    // 64 KiB of zeros gzip to a few hundred bytes: a decompression past the budget.
    const err = await failure(store.writeRaw({ series: series('bomb', [gzipSync(new Uint8Array(64 * 1024))]) }));
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toMatch(/decompressed size exceeds 16384 bytes/);
  });
});
