import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { INTERVAL_MS, ServiceModel, profileTimes } from './store-data.js';

/**
 * bench/server-ingest.ts's gzipped pprofs (four pods of one service, agent-sized: bench/store-data.ts),
 * made once per count and kept in the temp dir: making them takes longer than a bench pass.
 */
export function pprofPayloads(count: number): { rows: number; payloads: Uint8Array[] } {
  const cache = path.join(os.tmpdir(), 'kiln-bench-pprof-payloads', `${count}.bin`);
  if (existsSync(cache)) {
    const buf = readFileSync(cache);
    const out: Uint8Array[] = [];
    let at = 8;
    for (let i = 0; i < count; i++) {
      const len = buf.readUInt32LE(at);
      out.push(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    return { rows: buf.readUInt32LE(0), payloads: out };
  }
  const model = new ServiceModel();
  const times = profileTimes((Math.ceil(count / 4) * INTERVAL_MS) / 3_600_000, Date.UTC(2026, 0, 20, 6));
  const profiles = times.flatMap((t) => [0, 1, 2, 3].map((pod) => model.profile(t, { service_name: 'checkout', pod: `checkout-${pod}` }))).slice(0, count);
  const rows = profiles.reduce((a, p) => a + p.values.length, 0);
  const payloads = profiles.map((p) => encodePprofGzip(p));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(rows, 0);
  const parts: Uint8Array[] = [head];
  for (const p of payloads) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.length, 0);
    parts.push(len, p);
  }
  mkdirSync(path.dirname(cache), { recursive: true });
  writeFileSync(cache, Buffer.concat(parts));
  return { rows, payloads };
}

/**
 * The content stack ids a packed decode reply carries, one array per dictionary: from this tree's reply
 * (`stackIds`) or from an older tree's (`dicts[i].ids.stacks`), so an A/B bench can commit either side's stacks.
 */
export function replyStackIds(reply: { readonly ok: boolean; readonly decoded?: object }): BigUint64Array[] {
  if (!reply.ok || reply.decoded === undefined) return [];
  const d = reply.decoded as { stackIds?: BigUint64Array[]; dicts?: { ids?: { stacks: BigUint64Array } }[] };
  if (d.stackIds) return d.stackIds;
  return (d.dicts ?? []).flatMap((x) => (x.ids ? [x.ids.stacks] : []));
}
