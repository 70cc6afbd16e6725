/**
 * The pprof paths alone through the whole server: `POST /ingest?format=pprof`, push.v1
 * `PusherService/Push` and Parca's `ProfileStoreService/WriteRaw` (Connect, protobuf), bench/server-ingest.ts's agent-sized gzipped pprofs, with
 * the server's CPU per thread and the DuckDB commits each pass made (a figure the host's load does
 * not move: how many writes a group commit gathered).
 *
 *   npx tsx bench/pprof-server.ts [profiles=400] [concurrency=8] [workers=default] [passes=1]
 *
 * BENCH_CPU_PROF=dir: V8 CPU profiles of the server's threads (main and decode workers) in dir.
 *
 * The server is bench/server-ingest.ts's `--serve` child with bench/commit-count.ts preloaded (through commit-count-preload.mjs).
 * A 40-profile warm-up, then each pass `passes` times, every pass's profiles a new series.
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { WriteRawRequestSchema } from '../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { PushRequestSchema } from '../src/gen/push/v1/push_pb.js';
import type { CommitCount } from './commit-count.js';
import { pprofPayloads } from './pprof-payloads.js';

const n = Number(process.argv[2] ?? 400);
const concurrency = Number(process.argv[3] ?? 8);
const workers = process.argv[4] ?? 'default';
const passes = Number(process.argv[5] ?? 1);
const { rows, payloads } = pprofPayloads(n);

const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-pprof-server-'));
const countFile = path.join(dir, 'commits.json');
const here = path.dirname(new URL(import.meta.url).pathname);
const child = fork(path.join(here, 'server-ingest.ts'), ['--serve', path.join(dir, 'data'), workers], {
  // BENCH_CPU_PROF=dir: V8 CPU profiles of the server process's threads there.
  execArgv: ['--import', 'tsx', '--import', path.join(here, 'commit-count-preload.mjs'), ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [])],
  env: { ...process.env, BENCH_THREADS: '1', BENCH_COMMIT_COUNT: countFile },
});
process.once('exit', () => child.kill('SIGKILL'));
const { url } = await new Promise<{ url: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string })));

interface Reading {
  cpuMs: number;
  threads: Record<string, number>;
  commits: CommitCount;
}
async function reading(): Promise<Reading> {
  const cpu = await new Promise<{ cpuMs: number; threads: Record<string, number> }>((resolve) => {
    child.once('message', (m) => resolve(m as { cpuMs: number; threads: Record<string, number> }));
    child.send('cpu');
  });
  const lines = (await readFile(countFile, 'utf8')).trim().split('\n');
  return { ...cpu, commits: JSON.parse(lines[lines.length - 1]!) as CommitCount };
}

async function pass(label: string, send: (i: number) => Promise<Response>, count: number, print: boolean): Promise<void> {
  let next = 0;
  const latencies: number[] = [];
  const r0 = await reading();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const sent = performance.now();
        const res = await send(next++);
        if (!res.ok) throw new Error(`${label}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        latencies.push(performance.now() - sent);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(0);
  const s = (performance.now() - t0) / 1000;
  const r1 = await reading();
  if (!print) return;
  const cpuS = (r1.cpuMs - r0.cpuMs) / 1000;
  const commits = r1.commits.commits - r0.commits.commits;
  const profiles = r1.commits.profiles - r0.commits.profiles;
  const kib = (k: 'copied' | 'moved' | 'allocated') => ((r1.commits[k] - r0.commits[k]) / 1024 / count).toFixed(1);
  const gcs = (k: 'scavenges' | 'majorGCs') => r1.commits[k] - r0.commits[k];
  const threads = Object.entries(r1.threads)
    .map(([k, v]) => [k, v - (r0.threads[k] ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  console.log(
    `${label.padEnd(16)} ${count} profiles, ${rows} rows in ${s.toFixed(2)} s (request latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms); server CPU ${cpuS.toFixed(2)} s = ` +
      `${Math.round(rows / cpuS).toLocaleString('en')} rows per CPU-second; ${commits} commits, ${(profiles / commits).toFixed(2)} profiles per commit; ` +
      `to the decode threads per request ${kib('copied')} KiB copied, ${kib('moved')} KiB moved; ` +
      `main thread's JS heap per request ${kib('allocated')} KiB allocated (${gcs('scavenges')} scavenges, ${gcs('majorGCs')} other GCs in the pass); ` +
      `CPU per thread, ms: ${threads.map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
}

const pushBody = (i: number, pod: string) =>
  toBinary(
    PushRequestSchema,
    create(PushRequestSchema, {
      series: [{ labels: [{ name: '__name__', value: 'process_cpu' }, { name: 'service_name', value: 'checkout' }, { name: 'pod', value: `${pod}-${i % 4}` }], samples: [{ rawProfile: payloads[i]! }] }],
    }),
  );
const writeRawBody = (i: number, pod: string) =>
  toBinary(
    WriteRawRequestSchema,
    create(WriteRawRequestSchema, {
      series: [{ labels: { labels: [{ name: '__name__', value: 'process_cpu' }, { name: 'service_name', value: 'checkout' }, { name: 'pod', value: `${pod}-${i % 4}` }] }, samples: [{ rawProfile: payloads[i]! }] }],
    }),
  );
const ingest = (pod: string) => (i: number) =>
  fetch(`${url}/ingest?name=checkout.cpu{pod=${pod}-${i % 4}}&format=pprof`, { method: 'POST', body: payloads[i] as BodyInit, headers: { 'content-type': 'application/octet-stream' } });

await pass('warm-up', ingest('warm'), Math.min(40, n), false);
for (let p = 0; p < passes; p++) {
  await pass('POST /ingest', ingest(`ingest${p}`), n, true);
  const bodies = payloads.map((_, i) => pushBody(i, `push${p}`));
  await pass('push.v1', (i) => fetch(`${url}/push.v1.PusherService/Push`, { method: 'POST', body: bodies[i], headers: { 'content-type': 'application/proto' } }), n, true);
  const raws = payloads.map((_, i) => writeRawBody(i, `parca${p}`));
  const writeRaw = `${url}/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw`;
  await pass('parca WriteRaw', (i) => fetch(writeRaw, { method: 'POST', body: raws[i], headers: { 'content-type': 'application/proto' } }), n, true);
}
console.log(`rows per profile ${(rows / n).toFixed(0)}; concurrency ${concurrency}; decode workers ${workers}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
child.send('stop');
await new Promise((r) => child.once('exit', r));
await rm(dir, { recursive: true, force: true });
