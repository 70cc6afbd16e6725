import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePprof as decode, expectedFor } from '../support/pprof-expected.js';
import { pprofFiles } from '../support/testdata.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/**
 * The correctness bar: for every pprof of the corpus, after ingest through the server, the
 * flame-graph total and every function's self and total equal what pprof-format computes from the same
 * file, independently of Kiln's own decoder. One tenant per file keeps the files apart.
 */

interface TopResponse {
  total: number;
  entries: { name: string; self: number; total: number }[];
}
interface TypesResponse {
  profileTypes?: { ID: string; sampleType: string; sampleUnit: string }[];
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('every corpus pprof: totals and per-function self/total survive ingest → store → query', () => {
  for (const file of pprofFiles()) {
    const name = path.relative(path.dirname(path.dirname(file)), file);
    it(name, async () => {
      const tenant = `conformance-${name.replace(/[^a-zA-Z0-9]/g, '-')}`;
      const headers = { 'X-Scope-OrgID': tenant };
      const ingest = await fetch(`${server.url}/ingest?name=conformance&format=pprof`, {
        method: 'POST',
        headers,
        body: readFileSync(file),
      });
      expect(ingest.status, await ingest.clone().text()).toBe(200);

      const pprof = decode(file);
      const typesRes = await fetch(`${server.url}/querier.v1.QuerierService/ProfileTypes`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ start: '0', end: String(Date.now() + 86_400_000) }),
      });
      const types = ((await typesRes.json()) as TypesResponse).profileTypes ?? [];
      const str = (i: number | bigint) => pprof.stringTable.strings[Number(i)] ?? '';

      let checked = 0;
      for (const [index, st] of pprof.sampleType.entries()) {
        const expected = expectedFor(pprof, index);
        if (expected.total === 0) continue; // an all-zero sample type stores nothing, as in Pyroscope
        const type = types.find((t) => t.sampleType === str(st.type) && t.sampleUnit === str(st.unit));
        expect(type, `a profile type for ${str(st.type)}/${str(st.unit)} among ${types.map((t) => t.ID).join(', ')}`).toBeDefined();
        const q = new URLSearchParams({ query: `${type!.ID}{}`, from: '0', until: String(Date.now() + 86_400_000), limit: '100000' });
        const res = await fetch(`${server.url}/api/v1/top?${q}`, { headers });
        expect(res.status).toBe(200);
        const top = (await res.json()) as TopResponse;
        expect(top.total).toBe(expected.total);
        const self = new Map(top.entries.filter((e) => e.self !== 0).map((e) => [e.name, e.self]));
        const cumulative = new Map(top.entries.map((e) => [e.name, e.total]));
        expect(self).toEqual(expected.self);
        expect(cumulative).toEqual(expected.cumulative);
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});
