/**
 * JFR decode time (src/formats/jfr*.ts): a recording made here by a real JVM (a JDK on PATH: java,
 * javac), decoded as /ingest decodes a Pyroscope Java agent upload, alone and as a file of 8 chunks
 * (8 uploads' worth, each chunk with its own pools). Anchor, measured in the same run: the corpus's Go
 * heap pprof through decodeProfiles.
 *
 *   npx tsx bench/jfr-decode.ts [seconds=10] [rounds=20]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJfrUpload } from '../src/formats/jfr.js';
import { decodeProfiles } from '../src/formats/registry.js';

const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 20);

for (const tool of ['java', 'javac']) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error(`${tool} not found: this bench records a JFR with a JDK (Debian: openjdk-17-jdk-headless)`);
}

// Eight threads with stacks of random depth (up to 40 frames) that compute and allocate.
const APP = `import java.util.*;
public class BenchApp {
  static volatile long sink;
  static long deep(int d, long n) { if (d == 0) { long x = 0; for (long i = 0; i < n; i++) x += i ^ (x >>> 3); sink += new int[(int) (n % 3000) + 1].length; return x; } return deep(d - 1, n) + 1; }
  public static void main(String[] a) throws Exception {
    long end = System.currentTimeMillis() + Long.parseLong(a[0]);
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < 8; t++) { final int k = t; Thread th = new Thread(() -> { Random r = new Random(k); while (System.currentTimeMillis() < end) sink += deep(r.nextInt(40), 20000 + r.nextInt(1000)); }); th.start(); ts.add(th); }
    for (Thread t : ts) t.join();
  }
}
`;
const SETTINGS = `<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">10 ms</setting></event>
  <event name="jdk.ObjectAllocationInNewTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationOutsideTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationSample"><setting name="enabled">true</setting><setting name="throttle">150/s</setting><setting name="stackTrace">true</setting></event>
</configuration>
`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-jfr-bench-'));
let recording: Uint8Array;
try {
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'BenchApp.java'), APP);
  writeFileSync(path.join(dir, 'bench.jfc'), SETTINGS);
  execFileSync('javac', ['-d', path.join(dir, 'classes'), path.join(dir, 'src', 'BenchApp.java')]);
  const file = path.join(dir, 'bench.jfr');
  execFileSync('java', [`-XX:StartFlightRecording=filename=${file},settings=${path.join(dir, 'bench.jfc')}`, '-cp', path.join(dir, 'classes'), 'BenchApp', String(SECONDS * 1000)], { stdio: 'ignore' });
  recording = new Uint8Array(readFileSync(file));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function medianMs(fn: () => number): { ms: number; rows: number } {
  let rows = fn(); // warm up the JIT
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    rows = fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, rows };
}

const decodeRows = (data: Uint8Array) => (): number =>
  decodeJfrUpload(data, undefined, { labels: [], periodNs: 1e7 }, 1 << 30).reduce((n, p) => n + p.values.length, 0);

const eight = new Uint8Array(recording.length * 8);
for (let i = 0; i < 8; i++) eight.set(recording, i * recording.length);
const heap = new Uint8Array(readFileSync(path.resolve(process.cwd(), '../shared/testdata/pprof/pyroscope-heap')));

console.log(`seconds=${SECONDS} rounds=${ROUNDS} node ${process.version} load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| payload | size | rows | median ms | MB/s |');
console.log('|---|---|---|---|---|');
const row = (label: string, size: number, r: { ms: number; rows: number }): void =>
  console.log(`| ${label} | ${(size / 1024).toFixed(0)} KiB | ${r.rows} | ${r.ms.toFixed(1)} | ${(size / 1e6 / (r.ms / 1000)).toFixed(1)} |`);
row(`JFR, ${SECONDS} s recording`, recording.length, medianMs(decodeRows(recording)));
row('JFR, 8 chunks of it', eight.length, medianMs(decodeRows(eight)));
row('anchor: Go heap pprof (corpus pyroscope-heap)', heap.length, medianMs(() => decodeProfiles('pprof', heap).reduce((n, p) => n + p.values.length, 0)));
