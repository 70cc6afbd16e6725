/**
 * What one process costs the agent's user space, and what encoding one interval costs — the two items
 * that scale with process churn (issue 11). No BPF: the labeler and symbolizer run on this host's /proc.
 *
 *   npx tsx bench/agent-per-pid.ts [rounds=5]
 *
 * Per process, CPU µs (user+sys of this process) of labels() + observe():
 * - gone: a pid that no longer exists (most short-lived processes by the time their samples are read);
 * - new: a live process seen for the first time (40 sleep / python3 processes started by the bench);
 * - known: the same processes again (each interval's check that the pid was not reused).
 * Anchor, same rounds: one readFileSync of /proc/PID/stat for the same processes.
 * Encoding: one interval of 100 profiles × 20 stacks × 15 frames over 3 000 functions, with the agent's
 * writer and with the OTLP codec (anchor), then gzip at levels 6 and 1. A first round warms the JIT
 * and is not counted. In a checkout without the agent's writer (before it), its row is left out.
 * A steady interval: the same 40 processes' samples again (20 stacks × 15 frames each, addresses in
 * their own code: libc, python3), after a first interval that saw them — buildProfiles (observe,
 * labels, symbolize) and the request's encoding (OTLP writer; rows push with every stack confirmed), CPU µs
 * per interval, and the KiB one interval allocates (V8's sampling heap profiler, garbage included). The
 * samples are read from stored stack bytes as the checkout's sampler reads them. Each sample carries a
 * stack hash, as the sampler's do. With the agent's kept
 * dictionary where the checkout has one (issue 11), else a new dictionary each interval as before it.
 * Churn: 50 processes a 10 s interval that exited before their samples were read (see churnInterval).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import * as exporterProfiles from '../src/agent/exporter-profiles.js';
import { Session } from 'node:inspector';
import { MetadataLabeler } from '../src/agent/metadata/labeler.js';
import { RowsEncoder, rowsRequestBody } from '../src/agent/exporter-rows.js';
import * as samplerModule from '../src/agent/sampler.js';
import { storedReader, storeStacks } from './stored-stacks.js';
import { isFileBacked, readMaps } from '../src/agent/symbolize/proc-maps.js';
import type { RawSample } from '../src/agent/types.js';
import { ProcSymbolizer } from '../src/agent/symbolize/symbolizer.js';
import { encodeOtlpProtobuf } from '../src/formats/otlp.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, type Profile } from '../src/model/index.js';

const rounds = Number(process.argv[2] ?? 5);
const cpuUs = (f: () => void, n: number): number => {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / n;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const kids = Array.from({ length: 40 }, (_, i) =>
  i % 2 ? spawn('/usr/bin/python3', ['-c', 'import time; time.sleep(600)'], { stdio: 'ignore' }) : spawn('sleep', ['600'], { stdio: 'ignore' }),
);
await new Promise((r) => setTimeout(r, 1500));
const live = kids.map((k) => k.pid!);

function interval(): Profile[] {
  const b = new DictionaryBuilder();
  let seed = 1;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return Array.from({ length: 100 }, (_, p) => {
    const stacks: number[] = [];
    const values: number[] = [];
    for (let s = 0; s < 20; s++) {
      const locations = Array.from({ length: 15 }, () => {
        const f = rnd(3000);
        return b.location(b.mapping(`/usr/lib/lib${f % 30}.so`, `${f % 30}`.padStart(40, '0')), BigInt(f * 16), [{ function: b.function(`function_${f}_of_some_length`), line: 0 }]);
      });
      stacks.push(b.stack(locations));
      values.push((1e9 / 19) * (1 + rnd(5)));
    }
    return { type: CPU_TYPE, labels: labelsFrom({ service_name: `svc${p}`, pid: String(1000 + p), comm: `c${p}`, node: 'n' }), timeMs: Date.now(), durationNs: 10e9, period: 1e9 / 19, dict: b.dict, stacks, values };
  });
}

/** One interval of samples of the live processes: addresses spread over each one's file-backed code. */
function liveSamples(): RawSample[] {
  let seed = 99;
  let stackHashes = 0;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return live.flatMap((pid) => {
    const code = (readMaps(pid) ?? []).filter(isFileBacked);
    if (code.length === 0) return [];
    return Array.from({ length: 20 }, () => ({
      pid,
      kind: 'cpu' as const,
      comm: '',
      userAddrs: Array.from({ length: 15 }, () => {
        const m = code[rnd(code.length)]!;
        return BigInt(m.start + rnd(m.end - m.start));
      }),
      kernelAddrs: [],
      // As the BPF program keys them: one hash per distinct stack (these are all distinct).
      userStack: BigInt(++stackHashes),
      count: 1 + rnd(5),
    }));
  });
}
const steadySamples = liveSamples();
/**
 * The steady samples as the sampler hands them over after its map reads: each stack stored as the BPF
 * stacks map holds it (a 32-word value: frame count, frames), decoded as the checkout's sampler does —
 * lazily over one copy of the bytes where it has StackArena (issue 11), else every stack into BigInts.
 */
const storedStacks = storeStacks(steadySamples);
const readStored = storedReader(samplerModule);
const readSamples = (samples: readonly RawSample[] = steadySamples, bytes: Buffer = storedStacks) => readStored(samples, bytes);
const keptDictionary = 'KeptDictionary' in exporterProfiles;
function steadyInterval(note: (k: string, v: number) => void): void {
  const labeler = new MetadataLabeler({});
  const symbolizer = new ProcSymbolizer({});
  const kept = keptDictionary ? new exporterProfiles.KeptDictionary() : undefined;
  const window = { startMs: Date.now() - 10_000, endMs: Date.now() };
  const build = () => exporterProfiles.buildProfiles(readSamples(), window, symbolizer, labeler, { frequencyHz: 19, shareDictionary: true, ...(kept ? { keptDictionary: kept } : {}) });
  const rows = new RowsEncoder();
  // The rows push in steady state: the server confirmed every stack of the first interval.
  const rowsEncode = (built: Profile[]) => rowsRequestBody(rows.encode(built).body);
  rows.confirm(rows.encode(build().profiles).stackIds); // the first interval: tables, snapshots and labels of every process
  const k = keptDictionary ? 'kept dictionary' : 'new dictionary each interval';
  const INTERVALS = 5;
  let built: Profile[] = [];
  note(`steady interval, ${k}: read stacks + buildProfiles`, cpuUs(() => { for (let i = 0; i < INTERVALS; i++) built = build().profiles; }, INTERVALS));
  if (writer) note(`steady interval, ${k}: encode (agent OTLP writer)`, cpuUs(() => { for (let i = 0; i < INTERVALS; i++) writer.encode(built); }, INTERVALS));
  note(`steady interval, ${k}: encode (rows push)`, cpuUs(() => { for (let i = 0; i < INTERVALS; i++) rowsEncode(built); }, INTERVALS));
  // What one steady interval allocates (garbage included: what the agent's GC pays for), apart from the CPU runs.
  note(`steady interval, ${k}: KiB allocated, read stacks + buildProfiles + rows push`, allocatedKiB(() => rowsEncode(build().profiles)));
}

/** KiB allocated on the V8 heap by `f` (the sampling heap profiler, objects freed since included). */
function allocatedKiB(f: () => void): number {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  f();
  let bytes = 0;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) throw err;
    // KILN_BENCH_ALLOC_PROFILE=file keeps the profile (.heapprofile: by call stack, e.g. in Chrome's DevTools).
    if (process.env.KILN_BENCH_ALLOC_PROFILE) writeFileSync(process.env.KILN_BENCH_ALLOC_PROFILE, JSON.stringify(r.profile));
    const sum = (n: { selfSize: number; children: unknown[] }): number => n.selfSize + (n.children as (typeof n)[]).reduce((t, c) => t + sum(c), 0);
    bytes = sum(r.profile.head);
  });
  session.disconnect();
  return bytes / 1024;
}

/**
 * Churn: short-lived processes gone before their samples are read (no maps snapshot), each with 4
 * samples of 12 user frames at its own (ASLR) addresses — labels, observe, symbolize and its profile's
 * share of the interval's request, CPU µs per process, 50 such processes per interval over a kept
 * dictionary (as 5 `sh -c …` a second give in 10 s).
 */
let churnPid = 3_900_000;
function churnInterval(note: (k: string, v: number) => void): void {
  const labeler = new MetadataLabeler({});
  const symbolizer = new ProcSymbolizer({});
  const kept = keptDictionary ? new exporterProfiles.KeptDictionary() : undefined;
  const encoder = writerModule && new writerModule.OtlpRequestEncoder();
  let seed = 5;
  let hash = 1n;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const PIDS = 50;
  const INTERVALS = 5;
  const window = { startMs: Date.now() - 10_000, endMs: Date.now() };
  const samplesOf = (pid: number): RawSample[] => {
    const base = 0x5550_0000_0000n + BigInt(rnd(1 << 20)) * 0x1000n;
    return Array.from({ length: 4 }, () => ({ pid, kind: 'cpu' as const, comm: 'sh', userAddrs: Array.from({ length: 12 }, () => base + BigInt(rnd(1 << 16))), kernelAddrs: [], userStack: hash++, count: 1 }));
  };
  let build = 0;
  let encode = 0;
  for (let i = 0; i < INTERVALS; i++) {
    const samples = Array.from({ length: PIDS }, () => samplesOf(churnPid++)).flat();
    let built: Profile[] = [];
    const bytes = storeStacks(samples);
    build += cpuUs(() => (built = exporterProfiles.buildProfiles(readSamples(samples, bytes), window, symbolizer, labeler, { frequencyHz: 19, shareDictionary: true, ...(kept ? { keptDictionary: kept } : {}) }).profiles), PIDS);
    if (encoder) encode += cpuUs(() => encoder.encode(built), PIDS);
  }
  note('churn: a process gone before its samples are read, read stacks + buildProfiles', build / INTERVALS);
  if (encoder) note('churn: a process gone before its samples are read, encode (agent writer)', encode / INTERVALS);
}

const rows: Record<string, number[]> = {};
const keep = (k: string, v: number) => (rows[k] ??= []).push(v);
const profiles = interval();
const writerModule = await import('../src/agent/exporter-otlp.js').catch(() => undefined);
const writer = writerModule && new writerModule.OtlpRequestEncoder();
const raw = encodeOtlpProtobuf(profiles);
const ENCODES = 10;
try {
  for (let r = 0; r <= rounds; r++) {
    const note = r === 0 ? () => undefined : keep;
    const gone = Array.from({ length: 2000 }, (_, i) => 3_000_000 + r * 10_000 + i);
    const labeler = new MetadataLabeler({});
    const symbolizer = new ProcSymbolizer({});
    note('gone pid: labels + observe', cpuUs(() => gone.forEach((p) => (labeler.labels(p, 'sh'), symbolizer.observe(p))), gone.length));
    note('new pid: labels + observe', cpuUs(() => live.forEach((p) => (labeler.labels(p, ''), symbolizer.observe(p))), live.length));
    note('known pid: labels + observe', cpuUs(() => { for (let k = 0; k < 20; k++) live.forEach((p) => (labeler.labels(p, ''), symbolizer.observe(p))); }, live.length * 20));
    note('anchor: readFileSync /proc/PID/stat', cpuUs(() => { for (let k = 0; k < 20; k++) live.forEach((p) => readFileSync(`/proc/${p}/stat`, 'latin1')); }, live.length * 20));
    if (writer) note('encode interval: agent writer', cpuUs(() => { for (let k = 0; k < ENCODES; k++) writer.encode(profiles); }, ENCODES));
    note('encode interval: OTLP codec (anchor)', cpuUs(() => { for (let k = 0; k < ENCODES; k++) encodeOtlpProtobuf(profiles); }, ENCODES));
    note('gzip level 6', cpuUs(() => { for (let k = 0; k < ENCODES; k++) gzipSync(raw); }, ENCODES));
    note('gzip level 1', cpuUs(() => { for (let k = 0; k < ENCODES; k++) gzipSync(raw, { level: 1 }); }, ENCODES));
    steadyInterval(note);
    churnInterval(note);
  }
} finally {
  for (const k of kids) k.kill('SIGKILL');
}
console.log(`load average ${loadavg()[0]!.toFixed(1)}, ${rounds} rounds, median (CPU µs; encode in µs per interval, ${raw.length} bytes raw)`);
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${median(v).toFixed(1)} | ${v.map((x) => x.toFixed(0)).join(' / ')} |`);
