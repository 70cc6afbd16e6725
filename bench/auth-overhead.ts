/**
 * What authentication costs (docs/BENCHMARKS.md, "Authentication"):
 *   1. authenticate() alone: µs per request with 1, 10 and 100 tokens configured (bearer and basic);
 *   2. a cheap read end to end (querier.v1 LabelNames on an empty store): median latency, auth off vs on;
 *   3. ingest throughput (agent-sized gzipped pprof over POST /ingest, concurrency 8), auth off vs on.
 * Each figure is the median of RUNS runs; servers run in this process on loopback, off and on alternated.
 *
 *   npx tsx bench/auth-overhead.ts [runs=3] [profiles=240]
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerConfig } from '../src/config/server-config.js';
import { parseServerConfig } from '../src/config/server-config.js';
import { encodePprofGzip } from '../src/formats/pprof.js';
import { authenticate } from '../src/server/auth.js';
import { startServer } from '../src/server/server.js';
import type { RunningServer } from '../src/server/server.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/store.js';
import { INTERVAL_MS, ServiceModel, profileTimes } from './store-data.js';

const RUNS = Number(process.argv[2] ?? 3);
const PROFILES = Number(process.argv[3] ?? 240);
const TOKEN = 'kiln_bench_token_0123456789abcdefghijklmnopqrstuv';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function configWith(tokens: number): ServerConfig {
  const entries = Array.from({ length: tokens }, (_, i) => {
    const token = i === tokens - 1 ? TOKEN : `${TOKEN}-${i}`;
    return `    - name: t${i}\n      sha256: "${createHash('sha256').update(token).digest('hex')}"\n      tenants: [acme]\n      role: admin\n      scope: '{namespace=~"shop-.*"}'`;
  });
  return parseServerConfig(`auth:\n  tokens:\n${entries.join('\n')}\n`, 'bench.yaml');
}

function microbench(): void {
  for (const tokens of [1, 10, 100]) {
    const auth = configWith(tokens).auth!;
    for (const [kind, headers] of [
      ['bearer', { authorization: `Bearer ${TOKEN}` }],
      ['basic', { authorization: `Basic ${Buffer.from(`acme:${TOKEN}`).toString('base64')}` }],
    ] as const) {
      const n = 100_000;
      const perRun: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) authenticate(auth, headers, 'read');
        perRun.push(Number(process.hrtime.bigint() - t0) / n / 1000);
      }
      console.log(`authenticate() ${kind.padEnd(6)} ${String(tokens).padStart(3)} tokens: ${median(perRun).toFixed(2)} µs/request (runs: ${perRun.map((x) => x.toFixed(2)).join(', ')})`);
    }
  }
}

interface Bench {
  readonly server: RunningServer;
  readonly store: Store;
  readonly dir: string;
  readonly headers: Record<string, string>;
}

async function open(auth: boolean): Promise<Bench> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-auth-'));
  const store = await openStore(dir, { threads: 1 });
  const config = auth ? configWith(10) : { unknownSections: [] };
  const server = await startServer({ store, host: '127.0.0.1', port: 0, config: () => config });
  return { server, store, dir, headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} };
}

async function close(b: Bench): Promise<void> {
  await b.server.close();
  await b.store.close();
  await rm(b.dir, { recursive: true, force: true });
}

/** Median latency (µs) of `n` sequential LabelNames calls. */
async function readLatency(b: Bench, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${b.server.url}/querier.v1.QuerierService/LabelNames`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...b.headers },
      body: '{}',
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`LabelNames: ${res.status}`);
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

/** Profiles per second over POST /ingest, 8 in flight. */
async function ingestRate(b: Bench, payloads: readonly Uint8Array[], pass: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < payloads.length) {
        const i = next++;
        const res = await fetch(`${b.server.url}/ingest?name=checkout.cpu{pod=p${pass}-${i % 4}}&format=pprof`, {
          method: 'POST',
          body: payloads[i] as BodyInit,
          headers: { 'content-type': 'application/octet-stream', ...b.headers },
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`ingest: ${res.status}`);
      }
    }),
  );
  return payloads.length / ((performance.now() - t0) / 1000);
}

microbench();
const model = new ServiceModel();
const times = profileTimes((Math.ceil(PROFILES / 4) * INTERVAL_MS) / 3_600_000, Date.now() - 3_600_000);
const payloads = times
  .flatMap((t) => [0, 1, 2, 3].map((pod) => model.profile(t, { service_name: 'checkout', namespace: 'shop-a', pod: `checkout-${pod}` })))
  .slice(0, PROFILES)
  .map((p) => encodePprofGzip(p));
const off = await open(false);
const on = await open(true);
try {
  await readLatency(off, 200);
  await readLatency(on, 200);
  const lat = { off: [] as number[], on: [] as number[] };
  const rate = { off: [] as number[], on: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    lat.off.push(await readLatency(off, 1000));
    lat.on.push(await readLatency(on, 1000));
    rate.off.push(await ingestRate(off, payloads, r));
    rate.on.push(await ingestRate(on, payloads, r));
  }
  const f = (xs: number[], d = 0) => xs.map((x) => x.toFixed(d)).join(', ');
  console.log(`LabelNames median latency: auth off ${median(lat.off).toFixed(0)} µs (${f(lat.off)}), on ${median(lat.on).toFixed(0)} µs (${f(lat.on)})`);
  console.log(`ingest ${PROFILES} profiles × ${RUNS}: auth off ${median(rate.off).toFixed(0)} profiles/s (${f(rate.off)}), on ${median(rate.on).toFixed(0)} profiles/s (${f(rate.on)})`);
  console.log(`machine: ${os.cpus().length} CPUs, load avg ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await close(off);
  await close(on);
}
