import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PusherService } from '../../src/gen/push/v1/push_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';
import { distinctStacks, manyStrings } from './limits-payloads.js';

/**
 * Limits where the inflating prescan does not see them. The prescan only hashes samples past the stack
 * limit's count, so a pprof of 8 distinct stacks against a limit of 5 gets through it, and the pprof
 * reduction (server/pprof-ingest.ts), which counts the stacks it memoizes, must refuse it; and a pprof
 * that inflates to 1 MiB or less is not prescanned at all, so the decoder counts its symbol tables.
 */
let srv: TestServer;
const eight = distinctStacks(2);

beforeAll(async () => {
  srv = await startTestServer({ limits: { maxStacksPerRequest: 5, maxSymbolsPerRequest: 1000 } });
});
afterAll(async () => srv?.close());

async function total(service: string): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: `{service_name="${service}"}`, ...ALL_TIME });
  return Number(r.body.flamegraph?.total ?? 0);
}

describe('max_stacks_per_request, counted by the pprof reduction', () => {
  it('/ingest of a pprof with 8 distinct stacks, limit 5 → 413 naming the limit, nothing stored', async () => {
    const res = await ingest(srv.url, { name: 'eight', format: 'pprof' }, eight);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/more than 5 distinct stacks.*max_stacks_per_request/);
    expect(await total('eight')).toBe(0);
  });

  it('push.v1 of two series whose stacks add up past the limit → ResourceExhausted; one series within it is stored', async () => {
    const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: srv.url }));
    const one = distinctStacks(1); // a single stack
    const series = (name: string) => ({ labels: [{ name: 'service_name', value: name }], samples: [{ rawProfile: one, ID: '' }] });
    await pusher.push({ series: [series('within')] });
    expect(await total('within')).toBeGreaterThan(0);
    // Six pprofs of one stack each, in two series: the request holds 6 > 5 (each profile counts its own).
    const three = { labels: [{ name: 'service_name', value: 'past' }], samples: [{ rawProfile: one, ID: '' }, { rawProfile: one, ID: '' }, { rawProfile: one, ID: '' }] };
    const err = await pusher.push({ series: [three, { ...three, labels: [{ name: 'service_name', value: 'past2' }] }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toMatch(/more than 5 distinct stacks.*max_stacks_per_request/);
    expect(await total('past')).toBe(0);
  });

  it('a small pprof whose symbol tables hold 1 007 entries, limit 1 000 → 413 naming max_symbols_per_request; 996 are accepted', async () => {
    // manyStrings(n): n empty strings after a header of 4 strings, 1 function and 1 location.
    const res = await ingest(srv.url, { name: 'strings', format: 'pprof' }, manyStrings(1001));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/more than 1000 entries.*max_symbols_per_request/);
    expect((await ingest(srv.url, { name: 'strings', format: 'pprof' }, manyStrings(990))).status).toBe(200);
  });
});
