import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pprofFiles } from '../support/testdata.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/**
 * The correctness bar: for every pprof of the corpus, after ingest through the server, the
 * flame-graph total and every function's self and total equal what pprof-format computes from the same
 * file, independently of Kiln's own decoder. One tenant per file keeps the files apart.
 */

interface Expected {
  total: number;
  self: Map<string, number>;
  /** A function counts once per sample however often it recurs in the stack. */
  cumulative: Map<string, number>;
}

function decode(file: string): PprofProfile {
  let data = readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
  return PprofProfile.decode(data);
}

/** Independent per-function sums for sample type `index`, read straight from the pprof message. */
function expectedFor(p: PprofProfile, index: number): Expected {
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
  // Some .NET agents write every function with id 0, one per location in location order; the
  // only reading that makes sense of such a file (Pyroscope's too) gives function i location i's id.
  const zeroIds = p.function.length === p.location.length && p.function.every((f) => Number(f.id) === 0);
  const fnName = new Map(p.function.map((f, i) => [zeroIds ? Number(p.location[i]!.id) : Number(f.id), str(f.name)]));
  const mappingFile = new Map(p.mapping.map((m) => [Number(m.id), str(m.filename)]));
  // Frames of a location, innermost first; an unsymbolized one is named binary+0xaddress.
  const frames = new Map<number, string[]>(
    p.location.map((l) => {
      if (l.line.length > 0) return [Number(l.id), l.line.map((ln) => fnName.get(Number(ln.functionId)) ?? '')];
      const file = mappingFile.get(Number(l.mappingId)) ?? '';
      const bin = file.slice(file.lastIndexOf('/') + 1) || file || 'unknown';
      return [Number(l.id), [`${bin}+0x${BigInt(l.address).toString(16)}`]];
    }),
  );
  const out: Expected = { total: 0, self: new Map(), cumulative: new Map() };
  for (const s of p.sample) {
    // int64 on the wire: pprof-format hands back the unsigned reading of negative values.
    const v = Number(BigInt.asIntN(64, BigInt(s.value[index] ?? 0)));
    if (v === 0) continue;
    out.total += v;
    const names = s.locationId.flatMap((id) => frames.get(Number(id)) ?? []);
    if (names.length === 0) continue;
    out.self.set(names[0]!, (out.self.get(names[0]!) ?? 0) + v);
    for (const n of new Set(names)) out.cumulative.set(n, (out.cumulative.get(n) ?? 0) + v);
  }
  return out;
}

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
