/**
 * Memory under the worst request the default limits accept (issue 8): peak resident memory of a real
 * `kiln server` (a child process, fresh DuckDB data dir, default limits, `--retention 0`) while it
 * ingests one such request, against its idle resident memory measured in the same run (the anchor).
 *
 *   npx tsx bench/worst-request-memory.ts [--runs 3] [--only stacks,push,symbols,otlp,otlp-json,otlp-json-over,otlp-grpc]
 *
 * Candidates, each just inside the default limits it meets first:
 * - stacks: one pprof over /ingest with 97 336 distinct 3-frame stacks (max_stacks_per_request 100 000);
 * - push: push.v1 over gRPC, 2 series of 500 000 one-frame samples (max_samples_per_profile 500 000,
 *   max_samples_per_request 1 000 000);
 * - symbols: one pprof over /ingest whose string table holds 999 990 entries (max_symbols_per_request);
 * - otlp: OTLP/HTTP, gzipped protobuf, 2 profiles of 500 000 samples and 999 990 locations
 *   (max_samples_per_request and max_symbols_per_request);
 * - otlp-json: OTLP/HTTP, gzipped OTLP/JSON, 2 profiles of 500 000 samples (max_samples_per_request,
 *   counted on the text before JSON.parse);
 * - otlp-json-over: the same with 4 profiles (2 000 000 samples, 61 MiB inflated): refused, reported
 *   for what a refused request still costs (the inflated text);
 * - otlp-grpc: OTLP over gRPC, 2 profiles of 297 000 samples in one message just under 4 MiB (the OTLP gRPC cap;
 *   Connect parses it before any limit runs).
 * Peak = VmHWM of the server process (every thread, the decode workers too) read from /proc after the
 * answer; idle = VmRSS after start-up and one small ingest. Each figure is the median over `runs`
 * fresh servers. Linux only (/proc).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { fromBinary } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { PusherService } from '../src/gen/push/v1/push_pb.js';
import { startKilnServer } from '../test/support/cli.js';
import { ExportProfilesServiceRequestSchema, ProfilesService } from '../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { parseOtlpProtobuf, serializeOtlpJson } from '../src/formats/otlp.js';
import { OTLP_GRPC_MAX_MESSAGE_BYTES } from '../src/server/limits.js';
import { distinctStacks, manyStrings, oneFrameSamples } from '../test/server/limits-payloads.js';
import { otlpRequest } from '../test/server/limits-otlp-payloads.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, only: { type: 'string', default: 'stacks,push,symbols,otlp,otlp-json,otlp-json-over,otlp-grpc' } } });
const runs = Number(values.runs);

/** One candidate: what it is, and how to send it to a server at `url` (resolves with the HTTP-ish status). */
interface Candidate {
  readonly what: string;
  send(url: string): Promise<string>;
}

function candidates(): Record<string, Candidate> {
  const stacks = distinctStacks(46);
  const push = oneFrameSamples(500_000);
  const strings = manyStrings(999_990);
  const otlpRaw = otlpRequest({ samples: 500_000, profiles: 2, extraLocations: 999_990 });
  const otlp = gzipSync(otlpRaw);
  const jsonText = serializeOtlpJson(parseOtlpProtobuf(otlpRequest({ samples: 500_000, profiles: 2 })));
  const json = gzipSync(jsonText);
  const overText = serializeOtlpJson(parseOtlpProtobuf(otlpRequest({ samples: 500_000, profiles: 4 })));
  const over = gzipSync(overText);
  const grpcRaw = otlpRequest({ samples: 297_000, profiles: 2 });
  if (grpcRaw.length > OTLP_GRPC_MAX_MESSAGE_BYTES) throw new Error(`the gRPC candidate is ${grpcRaw.length} bytes, over the cap`);
  const grpc = fromBinary(ExportProfilesServiceRequestSchema, grpcRaw);
  const outcome = (e: unknown) => (e === undefined ? 'OK' : (e as Error).message.slice(0, 160));
  return {
    stacks: {
      what: 'pprof over /ingest, 97 336 distinct stacks',
      send: async (url) => {
        const res = await fetch(`${url}/ingest?name=worst&format=pprof`, { method: 'POST', body: new Uint8Array(stacks) });
        return `${res.status} ${(await res.text()).slice(0, 120)}`;
      },
    },
    push: {
      what: 'push.v1 (gRPC), 2 series × 500 000 one-frame samples',
      send: async (url) => {
        const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: url }));
        const series = Array.from({ length: 2 }, (_, i) => ({ labels: [{ name: 'service_name', value: `worst-${i}` }], samples: [{ rawProfile: push, ID: '' }] }));
        return pusher.push({ series }, { timeoutMs: 600_000 }).then(() => outcome(undefined), outcome);
      },
    },
    symbols: {
      what: 'pprof over /ingest, 999 990 string-table entries',
      send: async (url) => {
        const res = await fetch(`${url}/ingest?name=worst&format=pprof`, { method: 'POST', body: new Uint8Array(strings) });
        return `${res.status} ${(await res.text()).slice(0, 120)}`;
      },
    },
    'otlp-json': {
      what: `OTLP/HTTP gzipped JSON, 2 profiles × 500 000 samples (${(jsonText.length / 2 ** 20).toFixed(1)} MiB inflated)`,
      send: async (url) => {
        const res = await fetch(`${url}/v1development/profiles`, { method: 'POST', body: new Uint8Array(json), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
        return `${res.status} ${(await res.text()).slice(0, 160)}`;
      },
    },
    'otlp-json-over': {
      what: `OTLP/HTTP gzipped JSON, 4 profiles × 500 000 samples (${(overText.length / 2 ** 20).toFixed(1)} MiB inflated), refused`,
      send: async (url) => {
        const res = await fetch(`${url}/v1development/profiles`, { method: 'POST', body: new Uint8Array(over), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
        return `${res.status} ${(await res.text()).slice(0, 160)}`;
      },
    },
    'otlp-grpc': {
      what: `OTLP over gRPC, 2 profiles × 297 000 samples in ${(grpcRaw.length / 2 ** 20).toFixed(2)} MiB`,
      send: (url) => createClient(ProfilesService, createGrpcTransport({ baseUrl: url })).export(grpc, { timeoutMs: 600_000 }).then(() => outcome(undefined), outcome),
    },
    otlp: {
      what: `OTLP/HTTP gzipped protobuf, 2 profiles × 500 000 samples and 999 990 locations (${(otlpRaw.length / 2 ** 20).toFixed(1)} MiB inflated)`,
      send: async (url) => {
        const res = await fetch(`${url}/v1development/profiles`, { method: 'POST', body: new Uint8Array(otlp), headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' } });
        return `${res.status} ${Buffer.from(await res.arrayBuffer()).toString('latin1').replace(/[^\x20-\x7e]/g, '').slice(0, 160)}`;
      },
    },
  };
}

/** A /proc/<pid>/status field in MiB (VmRSS now, VmHWM the peak so far). */
function procMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) / 1024;
}

interface Run {
  readonly idleMiB: number;
  readonly peakMiB: number;
  readonly seconds: number;
  readonly answer: string;
}

async function once(c: Candidate): Promise<Run> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-worst-'));
  const server = await startKilnServer(['--data-dir', path.join(dir, 'data'), '--retention', '0']);
  try {
    const pid = server.process.pid!;
    const warm = await fetch(`${server.url}/ingest?name=warm&format=folded`, { method: 'POST', body: 'main;work 1\n' });
    if (warm.status !== 200) throw new Error(`warm-up ingest answered ${warm.status}`);
    await new Promise((r) => setTimeout(r, 1000));
    const idleMiB = procMiB(pid, 'VmRSS');
    const t = performance.now();
    const answer = await c.send(server.url);
    const seconds = (performance.now() - t) / 1000;
    return { idleMiB, peakMiB: procMiB(pid, 'VmHWM'), seconds, answer };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const all = candidates();
console.log(`worst-request-memory: ${runs} runs each, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at start, ${os.availableParallelism()} CPUs`);
for (const name of values.only.split(',')) {
  const c = all[name];
  if (!c) throw new Error(`unknown candidate ${name} (known: ${Object.keys(all).join(', ')})`);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(c);
    results.push(r);
    console.log(`  ${name} run ${i + 1}: idle ${r.idleMiB.toFixed(0)} MiB, peak ${r.peakMiB.toFixed(0)} MiB, ${r.seconds.toFixed(1)} s, answer ${r.answer}; load ${os.loadavg()[0]!.toFixed(1)}`);
  }
  console.log(
    `${name}: ${c.what}: peak ${median(results.map((r) => r.peakMiB)).toFixed(0)} MiB (runs ${results.map((r) => r.peakMiB.toFixed(0)).join(' / ')}), idle ${median(results.map((r) => r.idleMiB)).toFixed(0)} MiB, ${median(results.map((r) => r.seconds)).toFixed(1)} s`,
  );
}
