import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, ingest, querier } from './helpers.js';

/**
 * A real JVM (Debian's openjdk-17-jdk-headless) records a JFR of a small program with a known hot
 * method, allocations and lock contention; the file goes to a real Kiln server as the Pyroscope Java
 * agent uploads it, and what Kiln answers is checked against the JDK's own reading of the same file
 * (`jfr print --json`).
 */

const JDK_TOOLS = ['java', 'javac', 'jfr'];

function requireJdk(): void {
  const missing = JDK_TOOLS.filter((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    throw new Error(`this test needs a JDK: ${missing.join(', ')} not found on PATH (Debian: apt-get install -y openjdk-17-jdk-headless)`);
  }
}

const APP = `package demo;

import java.util.concurrent.locks.LockSupport;

public class KilnJfrApp {
  static volatile long sink;
  static final Object LOCK = new Object();

  static long hotLoop(long n) {
    long x = 0;
    for (long i = 0; i < n; i++) x += i * 31 ^ (x >>> 3);
    return x;
  }

  static void allocate() {
    for (int i = 0; i < 50; i++) sink += new byte[16 * 1024].length;
    sink += new byte[4 * 1024 * 1024].length;
  }

  static void contend(long end) {
    while (System.currentTimeMillis() < end) {
      synchronized (LOCK) { LockSupport.parkNanos(3_000_000); }
    }
  }

  public static void main(String[] args) throws Exception {
    long end = System.currentTimeMillis() + Long.parseLong(args[0]);
    for (int t = 0; t < 2; t++) new Thread(() -> contend(end), "contender-" + t).start();
    while (System.currentTimeMillis() < end) { sink += hotLoop(3_000_000); allocate(); }
  }
}
`;

/** CPU samples every 10 ms (the upload says sampleRate=100), allocation, monitor and park events with stacks. */
const SETTINGS = `<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="kiln-test">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">10 ms</setting></event>
  <event name="jdk.ObjectAllocationInNewTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationOutsideTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationSample"><setting name="enabled">true</setting><setting name="throttle">100/s</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.JavaMonitorEnter"><setting name="enabled">true</setting><setting name="threshold">0 ms</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ThreadPark"><setting name="enabled">true</setting><setting name="threshold">0 ms</setting><setting name="stackTrace">true</setting></event>
</configuration>
`;

interface JsonFrame { method: { type: { name: string }; name: string } }
interface JsonEvent {
  type: string;
  values: { stackTrace: { frames: JsonFrame[] } | null; state?: string; tlabSize?: number; allocationSize?: number; weight?: number; duration?: string };
}

/** `PT0.003012S` (java.time.Duration) → nanoseconds. */
function isoNanos(d: string): number {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d+))?S)?$/.exec(d);
  if (!m) throw new Error(`unexpected duration ${d}`);
  const frac = (m[4] ?? '').padEnd(9, '0').slice(0, 9);
  return (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1e9 + Number(frac);
}

/** What the JDK itself reads in the file: per Pyroscope profile type id, the total; and CPU samples by top frame. */
interface Expected {
  totals: Map<string, number>;
  cpuByTopFrame: Map<string, number>;
  cpuSamples: number;
}

function expectedFromJdk(jfrFile: string): Expected {
  const events = ['jdk.ExecutionSample', 'jdk.ObjectAllocationInNewTLAB', 'jdk.ObjectAllocationOutsideTLAB', 'jdk.ObjectAllocationSample', 'jdk.JavaMonitorEnter', 'jdk.ThreadPark'];
  const json = execFileSync('jfr', ['print', '--json', '--stack-depth', '1', '--events', events.join(','), jfrFile], { maxBuffer: 512 * 1024 * 1024 }).toString();
  const parsed = JSON.parse(json) as { recording: { events: JsonEvent[] } };
  const totals = new Map<string, number>();
  const add = (id: string, v: number): void => void totals.set(id, (totals.get(id) ?? 0) + v);
  const cpuByTopFrame = new Map<string, number>();
  let cpuSamples = 0;
  for (const e of parsed.recording.events) {
    const v = e.values;
    const top = v.stackTrace?.frames[0];
    if (!top) continue; // no stack: nothing to attribute, Pyroscope skips these too
    const dur = v.duration ? isoNanos(v.duration) : 0;
    switch (e.type) {
      case 'jdk.ExecutionSample': {
        if (v.state === 'STATE_SLEEPING') break;
        cpuSamples++;
        const frame = `${top.method.type.name}.${top.method.name}`;
        cpuByTopFrame.set(frame, (cpuByTopFrame.get(frame) ?? 0) + 1);
        add('process_cpu:cpu:nanoseconds:cpu:nanoseconds', 10_000_000);
        break;
      }
      case 'jdk.ObjectAllocationInNewTLAB':
        add('memory:alloc_in_new_tlab_objects:count:space:bytes', 1);
        add('memory:alloc_in_new_tlab_bytes:bytes:space:bytes', v.tlabSize ?? 0);
        break;
      case 'jdk.ObjectAllocationOutsideTLAB':
        add('memory:alloc_outside_tlab_objects:count:space:bytes', 1);
        add('memory:alloc_outside_tlab_bytes:bytes:space:bytes', v.allocationSize ?? 0);
        break;
      case 'jdk.ObjectAllocationSample':
        add('memory:alloc_sample_objects:count:space:bytes', 1);
        add('memory:alloc_sample_bytes:bytes:space:bytes', v.weight ?? 0);
        break;
      case 'jdk.JavaMonitorEnter':
        add('mutex:contentions:count:mutex:count', 1);
        add('mutex:delay:nanoseconds:mutex:count', dur);
        break;
      case 'jdk.ThreadPark':
        add('block:contentions:count:block:count', 1);
        add('block:delay:nanoseconds:block:count', dur);
        break;
    }
  }
  for (const [id, v] of totals) if (v === 0) totals.delete(id);
  return { totals, cpuByTopFrame, cpuSamples };
}

/** The Java agent's `labels` part: LabelsSnapshot { contexts = 1; strings = 2 } (one context: route=/cart). */
function labelsSnapshot(): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, 2).fork().tag(1, 0).int64(1).tag(2, 2).fork().tag(1, 2).fork().tag(1, 0).int64(1).tag(2, 0).int64(2).join().join().join();
  w.tag(2, 2).fork().tag(1, 0).int64(1).tag(2, 2).string('route').join();
  w.tag(2, 2).fork().tag(1, 0).int64(2).tag(2, 2).string('/cart').join();
  return w.finish();
}

let srv: TestServer;
let dir: string;
let jfrFile: string;
let expected: Expected;

beforeAll(async () => {
  requireJdk();
  dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-jfr-'));
  mkdirSync(path.join(dir, 'demo'));
  writeFileSync(path.join(dir, 'demo', 'KilnJfrApp.java'), APP);
  writeFileSync(path.join(dir, 'kiln.jfc'), SETTINGS);
  execFileSync('javac', ['-d', path.join(dir, 'classes'), path.join(dir, 'demo', 'KilnJfrApp.java')]);
  jfrFile = path.join(dir, 'app.jfr');
  execFileSync('java', [`-XX:StartFlightRecording=filename=${jfrFile},settings=${path.join(dir, 'kiln.jfc')}`, '-cp', path.join(dir, 'classes'), 'demo.KilnJfrApp', '3000'], {
    stdio: 'ignore',
    timeout: 60_000,
  });
  expected = expectedFromJdk(jfrFile);
  srv = await startTestServer();
}, 120_000);

afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function typesOf(service: string): Promise<string[]> {
  const series = await querier<{ labelsSet?: { labels: { name: string; value: string }[] }[] }>(srv.url, 'Series', {
    matchers: [`{service_name="${service}"}`], labelNames: ['__profile_type__'], ...ALL_TIME,
  });
  return (series.body.labelsSet ?? []).map((s) => s.labels.find((l) => l.name === '__profile_type__')?.value ?? '').sort();
}

interface FlameGraph { flamegraph?: { names: string[]; levels: { values: string[] }[]; total: string } }

async function flame(service: string, type: string): Promise<{ total: number; self: Map<string, number> }> {
  const r = await querier<FlameGraph>(srv.url, 'SelectMergeStacktraces', { profile_typeID: type, label_selector: `{service_name="${service}"}`, ...ALL_TIME });
  expect(r.status).toBe(200);
  const fg = r.body.flamegraph!;
  const self = new Map<string, number>();
  // Bars are [offset, total, self, name index] quadruplets.
  for (const level of fg.levels) {
    for (let i = 0; i + 3 < level.values.length; i += 4) {
      const name = fg.names[Number(level.values[i + 3])]!;
      self.set(name, (self.get(name) ?? 0) + Number(level.values[i + 2]));
    }
  }
  return { total: Number(fg.total), self };
}

function uploadParams(service: string): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  // What the Java agent puts in the URL (PyroscopeExporter): name with static labels, units, from/until in seconds, sampleRate, format=jfr.
  return { name: `${service}{env=test,region=eu}`, units: 'samples', aggregationType: 'sum', from: String(now - 10), until: String(now), spyName: 'javaspy', sampleRate: '100', format: 'jfr' };
}

describe('JFR from a real JVM, uploaded as the Pyroscope Java agent does', () => {
  it('raw body: Pyroscope\'s profile type ids, the hot method on top with the JDK\'s own share, every total as the JDK counts it', async () => {
    const res = await ingest(srv.url, uploadParams('jfr-raw'), readFileSync(jfrFile), { 'content-type': 'application/octet-stream' });
    expect(res.status, await res.clone().text()).toBe(200);

    expect(expected.cpuSamples, 'the JVM recorded too few CPU samples to compare shares').toBeGreaterThan(50);
    // The program allocates in and outside TLABs and contends on a monitor: every kind is in the file.
    expect(expected.totals.size, [...expected.totals.keys()].join(' ')).toBe(11);
    expect(await typesOf('jfr-raw')).toEqual([...expected.totals.keys()].sort());
    for (const [type, total] of expected.totals) expect((await flame('jfr-raw', type)).total, type).toBe(total);

    const cpu = await flame('jfr-raw', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds');
    const top = [...cpu.self].sort((a, b) => b[1] - a[1])[0]!;
    // Frames are class.method with the JVM's class name, as Pyroscope shows them.
    expect(top[0]).toBe('demo/KilnJfrApp.hotLoop');
    const jdkHot = expected.cpuByTopFrame.get('demo/KilnJfrApp.hotLoop') ?? 0;
    expect(top[1] / cpu.total).toBeCloseTo(jdkHot / expected.cpuSamples, 6);
    expect(top[1] / cpu.total).toBeGreaterThan(0.5);

    // Series labels: the name's labels and the service; no invented ones.
    const series = await querier<{ labelsSet?: { labels: { name: string; value: string }[] }[] }>(srv.url, 'Series', {
      matchers: ['{service_name="jfr-raw"}'], labelNames: [], ...ALL_TIME,
    });
    for (const s of series.body.labelsSet ?? []) {
      const names = s.labels.map((l) => l.name).filter((n) => !n.startsWith('__'));
      expect(names.sort()).toEqual(['env', 'region', 'service_name']);
    }
  });

  it('multipart (gzipped jfr and labels parts) with a two-chunk file: every total twice the JDK\'s count of one', async () => {
    const one = readFileSync(jfrFile);
    // JFR files are chunks one after the other: two recordings concatenated are a valid two-chunk file.
    const twoChunks = Buffer.concat([one, one]);
    const form = new FormData();
    form.append('jfr', new Blob([gzipSync(twoChunks)]), 'jfr');
    form.append('labels', new Blob([gzipSync(labelsSnapshot())], { type: 'application/x-protobuf' }), 'labels');
    const res = await ingest(srv.url, uploadParams('jfr-multipart'), form);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await typesOf('jfr-multipart')).toEqual([...expected.totals.keys()].sort());
    for (const [type, total] of expected.totals) expect((await flame('jfr-multipart', type)).total, type).toBe(2 * total);
  });

  it('a JFR past a decode-time limit is refused whole with 413 naming it, and nothing is stored', async () => {
    const capped = await startTestServer({ limits: { maxStacksPerRequest: 3 } });
    try {
      const res = await ingest(capped.url, uploadParams('jfr-capped'), readFileSync(jfrFile), { 'content-type': 'application/octet-stream' });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toMatch(/more than 3 stack traces: over the limit max_stacks_per_request/);
      const series = await querier<{ labelsSet?: unknown[] }>(capped.url, 'Series', { matchers: ['{service_name="jfr-capped"}'], labelNames: [], ...ALL_TIME });
      expect(series.body.labelsSet ?? []).toEqual([]);
    } finally {
      await capped.close();
    }
  });
});
