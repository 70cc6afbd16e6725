import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { Function as PprofFunction, Location as PprofLocation, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePprof } from '../../src/formats/pprof.js';
import { PushRequestSchema } from '../../src/gen/push/v1/push_pb.js';
import { labelsFrom } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { decodeAllowingEmpty } from '../../src/server/decode-tasks.js';
import { parseIngestName } from '../../src/server/ingest-name.js';
import { decodePprofForStore } from '../../src/server/pprof-ingest.js';
import { ContentIds } from '../../src/store/content-ids.js';
import { openDuckDB } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { profileSamples } from '../../src/store/profile-rows.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { storeDigest } from '../support/store-digest.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * The pprof paths of other clients (Pyroscope SDKs and Alloy over `POST /ingest` and push.v1) reduce a
 * pprof through a memo that lives across requests on each decode thread (server/pprof-ingest.ts). What
 * a user checks: a profile pushed when the memo is cold, and pushed again when it is warm (every
 * function, location and stack known, every stack stored), is stored exactly as the plain decoder
 * (decodePprof, no memo) and the write path store it.
 */

const FROM_S = 1_768_200_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The plain decoder's profiles, as the server labels and names them; an empty pprof stores nothing. */
const plain = (bytes: Uint8Array, opts: Parameters<typeof decodePprof>[1]): Profile[] => decodeAllowingEmpty(() => decodePprof(bytes, opts));

describe('pprof pushes from other clients, cold and warm memo (real server, DuckDB)', () => {
  it('stores every corpus pprof pushed twice over /ingest and push.v1 as the plain decoder does', { timeout: 240_000 }, async () => {
    const files = pprofFiles();
    expect(files.length).toBeGreaterThan(10);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-pprof-memo-ref-'));
    const reference: Store = await openDuckDB(dir, { threads: 1 });
    try {
      // Round 0 meets a cold memo; round 1 sends the same bytes as new series: every symbol memoized, every stack stored.
      for (const round of [0, 1]) {
        for (const [i, f] of files.entries()) {
          const bytes = readFileSync(f);
          const name = `corpus-${i}{round="${round}"}`;
          const res = await fetch(`${server.url}/ingest?name=${encodeURIComponent(name)}&format=pprof&from=${FROM_S}`, {
            method: 'POST',
            body: bytes,
            headers: { 'content-type': 'application/octet-stream', 'x-scope-orgid': 'memo-ingest' },
          });
          expect(res.status, `${path.basename(f)} round ${round}: ${await res.clone().text()}`).toBe(200);
          const ingestName = parseIngestName(name);
          await reference.write('memo-ingest', plain(bytes, { name: ingestName.name, labels: ingestName.labels, timeMs: FROM_S * 1000 }));

          const labels = [
            { name: 'service_name', value: `corpus-${i}` },
            { name: 'round', value: `${round}` },
          ];
          const body = toBinary(PushRequestSchema, create(PushRequestSchema, { series: [{ labels, samples: [{ rawProfile: bytes }] }] }));
          const pushed = await fetch(`${server.url}/push.v1.PusherService/Push`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/proto', 'x-scope-orgid': 'memo-push' },
          });
          expect(pushed.status, `${path.basename(f)} round ${round}: ${await pushed.clone().text()}`).toBe(200);
          await reference.write('memo-push', plain(bytes, { labels: labelsFrom(labels.map((l) => [l.name, l.value])) }));
        }
      }
      for (const tenant of ['memo-ingest', 'memo-push']) {
        const expected = (await storeDigest(reference, tenant)) as { series: unknown[]; merges: unknown[] };
        expect(expected.series.length, tenant).toBeGreaterThan(2 * (files.length - 2));
        expect(await storeDigest(server.store, tenant), tenant).toEqual(expected);
      }
    } finally {
      await reference.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** What the store keeps of a profile: rows by content stack id, and the fields around them. */
function stored(p: Profile): unknown {
  const ids = new ContentIds().forWrite(p.dict);
  return { type: p.type, labels: p.labels, rows: profileSamples(p, ids.stackWords) };
}

/**
 * A pprof of one-frame stacks over the function `f`, written as in `spellings`: `same` gives the system
 * name the name's own string index (Go's runtime/pprof, pprof-format), `copy` a second string-table
 * entry with the same bytes, `other` a different system name `g`.
 */
function oneFrameStacks(spellings: readonly ('same' | 'copy' | 'other')[]): Uint8Array {
  const st = new StringTable();
  const f = st.dedup('f');
  const g = st.dedup('g');
  const cpu = st.dedup('cpu');
  const ns = st.dedup('nanoseconds');
  // The copy of 'f' is appended to the string table after encoding (pprof-format's table deduplicates).
  const copy = st.strings.length;
  const functions = spellings.map((s, k) => new PprofFunction({ id: k + 1, name: f, systemName: s === 'same' ? f : s === 'copy' ? copy : g }));
  const locations = spellings.map((_, k) => new PprofLocation({ id: k + 1, line: [{ functionId: k + 1, line: 7 }] }));
  const encoded = new PprofProfile({
    sampleType: [new ValueType({ type: cpu, unit: ns })],
    periodType: new ValueType({ type: cpu, unit: ns }),
    period: 1000,
    sample: spellings.map((_, k) => new Sample({ locationId: [k + 1], value: [10 * (k + 1)] })),
    location: locations,
    function: functions,
    stringTable: st,
  }).encode();
  // Field 6 (string_table), length-delimited: one more entry, "f".
  return new Uint8Array([...encoded, 0x32, 1, 0x66]);
}

describe('the function memo keys a system name equal to the name canonically', () => {
  const opts = { labels: labelsFrom({ service_name: 'sysname' }), timeMs: Date.UTC(2026, 0, 10) };

  it('stores the same rows as decodePprof whichever way the system name is spelled, in either order, cold or warm', () => {
    // The copy first (a memo entry made from it), then the shared index, then both in one pprof, then a different system name.
    for (const spellings of [['copy'], ['same'], ['same', 'copy'], ['copy', 'same', 'other'], ['other', 'copy']] as const) {
      const bytes = oneFrameStacks(spellings);
      const expected = decodePprof(bytes, opts).map(stored);
      expect(decodePprofForStore(bytes, opts).map(stored), spellings.join(',')).toEqual(expected);
    }
    // `same` and `copy` are one function, hence one stack and one row (10 + 20); `other` is another function.
    const mixed = oneFrameStacks(['same', 'copy', 'other']);
    expect(decodePprof(mixed, opts)[0]!.values).toEqual([30, 30]);
    expect(decodePprofForStore(mixed, opts)[0]!.values).toEqual([30, 30]);
  });
});

describe('the function memo tells apart names with the same length and the same ends', () => {
  const opts = { labels: labelsFrom({ service_name: 'near-names' }), timeMs: Date.UTC(2026, 0, 10) };

  /** Functions `names` (with `files`), one one-frame stack each, sample k of value k + 1. */
  function framesOf(names: readonly string[], files: readonly string[]): Uint8Array {
    const st = new StringTable();
    const cpu = st.dedup('cpu');
    const ns = st.dedup('nanoseconds');
    const functions = names.map((n, k) => new PprofFunction({ id: k + 1, name: st.dedup(n), systemName: st.dedup(n), filename: st.dedup(files[k]!) }));
    return new PprofProfile({
      sampleType: [new ValueType({ type: cpu, unit: ns })],
      periodType: new ValueType({ type: cpu, unit: ns }),
      period: 1000,
      sample: names.map((_, k) => new Sample({ locationId: [k + 1], value: [k + 1] })),
      location: names.map((_, k) => new PprofLocation({ id: k + 1, line: [{ functionId: k + 1, line: 3 }] })),
      function: functions,
      stringTable: st,
    }).encode();
  }

  it('keeps every function its own whichever byte differs (head, middle, tail, past the slot), cold or warm', () => {
    // The memo hashes a key's lengths and the first and last 8 bytes of each string, and compares the rest
    // (four bytes at a time, then byte by byte, then past the table slot's 40 inline bytes).
    const base = 'com.example.service.Handler.process';
    const names: string[] = [];
    for (const at of [0, 3, 8, 9, 12, 17, 18, 21, 26, 27, base.length - 9, base.length - 1]) names.push(base.slice(0, at) + '#' + base.slice(at + 1));
    names.push(base, 'abc', 'abd', 'abcdefg', 'abcdefh', 'abcdefgh', 'abcdxfgh');
    const long = 'x'.repeat(30) + base;
    for (const at of [31, 44, 50]) names.push(long.slice(0, at) + '#' + long.slice(at + 1));
    names.push(long);
    const files = names.map((_, k) => (k % 3 === 0 ? '' : k % 3 === 1 ? 'handler/process.go' : 'handler/process.gx'));
    expect(new Set(names.map((n, k) => `${n}\0${files[k]}`)).size).toBe(names.length);
    // Cold, then warm, then the same functions in the reverse order (each found in the memo from another row).
    for (const [ns, fs] of [[names, files], [names, files], [[...names].reverse(), [...files].reverse()]] as const) {
      const bytes = framesOf(ns, fs);
      const expected = decodePprof(bytes, opts);
      expect(expected[0]!.values).toHaveLength(names.length);
      expect(decodePprofForStore(bytes, opts).map(stored)).toEqual(expected.map(stored));
    }
  });
});
