import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exporter } from '../../src/agent/exporter.js';
import { RowsEncoder, rowsRequestBody } from '../../src/agent/exporter-rows.js';
import type { WireRequest } from '../../src/agent/exporter-wire.js';
import { KILN_ROWS_PATH, KILN_ROWS_TYPE } from '../../src/formats/kiln-rows.js';
import { encodeOtlpProtobuf } from '../../src/formats/otlp.js';
import { OTLP_HTTP_PATH } from '../../src/formats/otlp-names.js';
import { decodePprof } from '../../src/formats/pprof.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, type Profile } from '../../src/model/index.js';
import { dictionaryIds } from '../../src/model/ids.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';
import { decodeKilnRows } from '../../src/server/kiln-rows-decode.js';
import { openDuckDB } from '../../src/store/index.js';
import { STORED_STACK, StoredStacks } from '../../src/store/stored-stacks.js';
import type { Store } from '../../src/store/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { storeDigest } from '../support/store-digest.js';
import { pprofFiles } from '../support/testdata.js';

const T = Date.UTC(2026, 0, 12, 9);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function exporter(tenant: string, sent: WireRequest[], failures: string[]): Exporter {
  return new Exporter(
    { server: server.url, protocol: 'kiln', frequencyHz: 19, timeoutMs: 30_000, tenant, otlpEncoder: encodeOtlpProtobuf, queue: { maxItems: 100, maxBytes: 1e9, initialBackoffMs: 10, maxBackoffMs: 100 } },
    { sent: (r) => sent.push(r), failed: (_r, e) => failures.push(e) },
  );
}

const post = (body: Uint8Array, headers: Record<string, string> = { 'content-type': KILN_ROWS_TYPE }, tenant = 'rows-raw') =>
  fetch(`${server.url}${KILN_ROWS_PATH}`, { method: 'POST', body: body as BodyInit, headers: { ...headers, 'x-scope-orgid': tenant } });

/** A small agent-like profile: two stacks in one binary. */
function appProfile(labels: Record<string, string>, names = ['burn', 'main']): Profile {
  const b = new DictionaryBuilder();
  const bin = b.mapping('/opt/app/bin/app', 'abc123');
  const fr = (name: string) => b.location(bin, 0x1000n, [{ function: b.function(name), line: 3 }]);
  const hot = b.stack(names.map(fr));
  const cool = b.stack([fr('idle'), fr('main')]);
  return { type: CPU_TYPE, labels: labelsFrom(labels), timeMs: T, durationNs: 10e9, period: 1e9 / 19, dict: b.dict, stacks: [hot, cool], values: [7e8, 3e8] };
}

describe('the Kiln rows push (agent → real server): stacks by content id, symbols once', () => {
  it('stores what the store itself stores for every corpus pprof, sending each stack\'s symbols only until the server has it', { timeout: 180_000 }, async () => {
    const files = pprofFiles();
    expect(files.length).toBeGreaterThan(10);
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-rows-ref-'));
    const reference: Store = await openDuckDB(dir, { threads: 1 });
    const sent: WireRequest[] = [];
    const failures: string[] = [];
    const ex = exporter('t', sent, failures);
    const bytesByRound: number[] = [];
    try {
      // Round 1 carries the symbols; round 2 (new series, same stacks) should carry rows only.
      for (const round of [0, 1]) {
        const before = sent.length;
        for (const [i, f] of files.entries()) {
          const profiles = decodePprof(readFileSync(f), { labels: labelsFrom({ service_name: `corpus-${i}`, round: `${round}` }), timeMs: T + round * 60_000 });
          await reference.write('t', profiles);
          ex.submit(profiles, { startMs: T, endMs: T + 10_000 });
          expect(await ex.flush(60_000), `${f} round ${round}`).toBe(true);
        }
        bytesByRound.push(sent.slice(before).reduce((a, r) => a + r.bytes, 0));
      }
      expect(failures).toEqual([]);
      const expected = (await storeDigest(reference, 't')) as { series: unknown[]; merges: unknown[] };
      expect(expected.series.length).toBeGreaterThan(2 * (files.length - 1));
      expect(await storeDigest(server.store, 't')).toEqual(expected);
      // Symbols are what a push weighs: the second round sends a small part of the first's bytes.
      expect(bytesByRound[1]!).toBeLessThan(0.5 * bytesByRound[0]!);
    } finally {
      ex.close();
      await reference.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips, unread, the symbols a second agent sends for stacks another agent stored: the same stored data', { timeout: 120_000 }, async () => {
    const files = pprofFiles().slice(0, 8);
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-rows-ref-'));
    const reference: Store = await openDuckDB(dir, { threads: 1 });
    // Two agents of one service: each sends a stack's symbols once, so the second sends symbols of stacks the first stored.
    const agents = [new RowsEncoder(), new RowsEncoder()];
    try {
      for (const [i, f] of files.entries()) {
        for (const [a, agent] of agents.entries()) {
          const profiles = decodePprof(readFileSync(f), { labels: labelsFrom({ service_name: `two-agents-${i}`, pod: `p${a}` }), timeMs: T });
          await reference.write('two-agents', profiles);
          const { body, stackIds } = agent.encode(profiles);
          const req = rowsRequestBody(body);
          const res = await post(req.body, req.headers, 'two-agents');
          expect(res.status, `${f} agent ${a}: ${await res.clone().text()}`).toBe(200);
          agent.confirm(stackIds);
        }
      }
      expect(await storeDigest(server.store, 'two-agents')).toEqual(await storeDigest(reference, 'two-agents'));
    } finally {
      await reference.close();
      rmSync(dir, { recursive: true, force: true });
    }

    // What the decoder hands the write path: a stored stack's frames, and the symbols only it uses, are not read.
    const p = appProfile({ service_name: 'left-out' }, ['burn-only-here', 'main']);
    const { body } = new RowsEncoder().encode([p]);
    const hot = dictionaryIds(p.dict).stacks[p.stacks[0]!]!;
    const stored = new StoredStacks();
    const words = new Uint32Array(new BigUint64Array([hot]).buffer);
    stored.add(words[0]!, words[1]!);
    const { profiles, missing } = await decodeKilnRows(body, false, DEFAULT_TENANT_LIMITS, stored);
    expect(missing).toEqual([]);
    const dict = profiles[0]!.dict;
    expect(dict.stacks.filter((s) => s === STORED_STACK)).toHaveLength(1);
    expect(dict.functions.map((f) => f.name).sort()).toEqual(['idle', 'main']);
    expect(dict.locations).toHaveLength(2);
    // The stack the store lacks is still checked: its function renamed in the request → refused.
    const forged = Buffer.from(Buffer.from(body).toString('latin1').replace('idle', 'IDLE'), 'latin1');
    await expect(decodeKilnRows(forged, false, DEFAULT_TENANT_LIMITS, stored)).rejects.toThrow(/whose content has id/);
  });

  it('answers 409 with the stacks it lacks and writes nothing; the request with their symbols is stored', async () => {
    const encoder = new RowsEncoder();
    const p = appProfile({ service_name: 'conflict', pod: 'a' });
    // An agent that believes the server has every stack (a restart of the server, another replica…).
    const all = encoder.encode([p]);
    encoder.confirm(all.stackIds);
    const rowsOnly = encoder.encode([p]);
    expect(rowsOnly.body.length).toBeLessThan(all.body.length);
    const refused = await post(rowsOnly.body);
    expect(refused.status).toBe(409);
    const answer = (await refused.json()) as { error: string; missing_stacks: string[] };
    expect(answer.missing_stacks.sort()).toEqual(all.stackIds.map((id) => id.toString(16).padStart(16, '0')).sort());
    expect(answer.error).toMatch(/send the request again with their symbols/);
    const q = { tenant: 'rows-raw', from: T - 60_000, to: T + 60_000, selector: { profileType: '', matchers: [] } };
    expect(await server.store.series(q)).toHaveLength(0);

    const withSymbols = rowsRequestBody(encoder.encode([p], 'all').body);
    const ok = await post(withSymbols.body, withSymbols.headers);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ profiles: 1, rows: 2 });
    // Now known: rows alone are taken.
    const again = await post(encoder.encode([{ ...p, labels: labelsFrom({ service_name: 'conflict', pod: 'b' }) }]).body);
    expect(again.status).toBe(200);
    expect(await server.store.series(q)).toHaveLength(2);
  });

  it('refuses symbols whose content does not hash to the id they are sent under, and bad bodies, with a 4xx naming the problem', async () => {
    const encoder = new RowsEncoder();
    // Function names no other test stores: the server lacks these stacks, so it reads and checks their symbols.
    const honestProfile = appProfile({ service_name: 'liar' }, ['liar-burn', 'liar-main']);
    const honest = encoder.encode([honestProfile]).body;
    // The same request with one function renamed in place (same length): its id no longer matches.
    const text = Buffer.from(honest).toString('latin1');
    const forged = Buffer.from(text.replace('liar-burn', 'LIAR-BURN'), 'latin1');
    expect(forged.equals(Buffer.from(honest))).toBe(false);
    const r1 = await post(forged, { 'content-type': KILN_ROWS_TYPE }, 'liar');
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { error: string }).error).toMatch(/whose content has id/);

    const r2 = await post(honest.subarray(0, honest.length - 3), { 'content-type': KILN_ROWS_TYPE }, 'liar');
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { error: string }).error).toMatch(/not a valid Kiln rows request/);

    const r3 = await post(honest, { 'content-type': 'application/json' }, 'liar');
    expect(r3.status).toBe(415);

    const q = { tenant: 'liar', from: T - 60_000, to: T + 60_000, selector: { profileType: '', matchers: [] } };
    expect(await server.store.series(q)).toHaveLength(0);
    // The honest request is still taken.
    expect((await post(honest, { 'content-type': KILN_ROWS_TYPE }, 'liar')).status).toBe(200);
    // Symbols sent for a stack the server already stores are skipped unread: the forged request now
    // stores its rows under that stack, whose stored frames stay the honest ones.
    expect((await post(forged, { 'content-type': KILN_ROWS_TYPE }, 'liar')).status).toBe(200);
    const hot = dictionaryIds(honestProfile.dict).stacks[honestProfile.stacks[0]!]!;
    const resolved = await server.store.resolveStacks('liar', [hot]);
    const frames = resolved.dict.stacks[resolved.stacks.get(hot)!]!.map((l) => resolved.dict.functions[resolved.dict.locations[l]!.lines[0]!.function]!.name);
    expect(frames).toEqual(['liar-burn', 'liar-main']);
  });

  it('falls back to OTLP, and stays there, when the server has no rows endpoint (404)', async () => {
    // Stands in for a server without the endpoint (Pyroscope, an OTel Collector): 404 but for OTLP.
    const paths: string[] = [];
    const other = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      req.resume();
      req.on('end', () => {
        res.statusCode = req.url === OTLP_HTTP_PATH ? 200 : 404;
        res.end();
      });
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const failures: string[] = [];
    const ex = new Exporter(
      { server: `http://127.0.0.1:${(other.address() as AddressInfo).port}`, protocol: 'kiln', frequencyHz: 19, timeoutMs: 10_000, otlpEncoder: encodeOtlpProtobuf, queue: { maxItems: 10, maxBytes: 1e7, initialBackoffMs: 10, maxBackoffMs: 100 } },
      { failed: (_r, e) => failures.push(e) },
    );
    try {
      for (const pod of ['a', 'b']) {
        ex.submit([appProfile({ service_name: 'elsewhere', pod })], { startMs: T, endMs: T + 10_000 });
        expect(await ex.flush(10_000)).toBe(true);
      }
    } finally {
      ex.close();
      other.close();
    }
    expect(failures).toEqual([]);
    expect(paths).toEqual([KILN_ROWS_PATH, OTLP_HTTP_PATH, OTLP_HTTP_PATH]);
  });

  it('checks the request limits as the other ingest protocols do (413 naming the limit)', async () => {
    const small = await startTestServer({ limits: { maxSamplesPerRequest: 3 } });
    try {
      const body = new RowsEncoder().encode([appProfile({ service_name: 'a' }), appProfile({ service_name: 'b' })]).body;
      const res = await fetch(`${small.url}${KILN_ROWS_PATH}`, { method: 'POST', body: body as BodyInit, headers: { 'content-type': KILN_ROWS_TYPE } });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toMatch(/max_samples_per_request|more than 3 samples/);
    } finally {
      await small.close();
    }
  });
});
