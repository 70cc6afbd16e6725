import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Profile as PprofProfile } from 'pprof-format';
import { startKilnServer } from '../support/cli.js';
import type { CliServer } from '../support/cli.js';
import { ingest, rawPprof } from '../server/helpers.js';
import { requireTestdata } from '../support/testdata.js';

/** `kiln server --config kiln.yaml` as users run it, on a free loopback port, with its log collected. */
export interface KilnUnderTest {
  readonly server: CliServer;
  readonly url: string;
  /** host:port, what Prometheus scrapes. */
  readonly target: string;
  readonly configFile: string;
  readonly dir: string;
  log(): string;
  /** Rewrites kiln.yaml and sends SIGHUP, as an operator reloads. */
  reload(yaml: string): Promise<void>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startKiln(yaml: string): Promise<KilnUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-insight-'));
  const configFile = path.join(dir, 'kiln.yaml');
  await writeFile(configFile, yaml);
  let server: CliServer;
  try {
    server = await startKilnServer(['--config', configFile, '--data-dir', path.join(dir, 'data')]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let log = '';
  server.process.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-50_000)));
  return {
    server,
    url: server.url,
    target: server.url.replace(/^http:\/\//, ''),
    configFile,
    dir,
    log: () => log,
    async reload(next) {
      await writeFile(configFile, next);
      const before = log.length;
      server.process.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while (!/reloaded|not reloaded/.test(log.slice(before))) {
        if (Date.now() > deadline) throw new Error(`kiln did not say it reloaded:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (/not reloaded/.test(log.slice(before))) throw new Error(`kiln refused the new config:\n${log.slice(before)}`);
    },
    async metrics() {
      const res = await fetch(`${server.url}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      return res.text();
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A corpus pprof with its own figures, computed with pprof-format (not Kiln). */
export interface CorpusCpuProfile {
  readonly bytes: Uint8Array;
  readonly durationNs: number;
  /** Self CPU nanoseconds per leaf function (the innermost frame of the first location). */
  readonly selfNs: Map<string, number>;
  readonly totalNs: number;
  /** Re-stamps the profile to start at `timeMs` (pprof's own time wins over /ingest's from=). */
  stamped(timeMs: number): Uint8Array;
}

export function cpuProfile(file: string): CorpusCpuProfile {
  const bytes = rawPprof(path.join(requireTestdata('pprof'), file));
  const p = PprofProfile.decode(bytes);
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)]!;
  const idx = p.sampleType.findIndex((t) => str(t.type) === 'cpu' && str(t.unit) === 'nanoseconds');
  if (idx < 0) throw new Error(`${file} has no cpu:nanoseconds sample type`);
  const fnName = new Map(p.function.map((f) => [String(f.id), str(f.name)]));
  const leafOf = new Map(p.location.map((l) => [String(l.id), fnName.get(String(l.line[0]?.functionId)) ?? '']));
  const selfNs = new Map<string, number>();
  let totalNs = 0;
  for (const s of p.sample) {
    const v = Number(s.value[idx] ?? 0);
    totalNs += v;
    const leaf = leafOf.get(String(s.locationId[0])) ?? '';
    selfNs.set(leaf, (selfNs.get(leaf) ?? 0) + v);
  }
  return {
    bytes,
    durationNs: Number(p.durationNanos),
    selfNs,
    totalNs,
    stamped(timeMs) {
      const copy = PprofProfile.decode(bytes);
      copy.timeNanos = BigInt(Math.round(timeMs)) * 1_000_000n;
      return copy.encode();
    },
  };
}

export async function ingestPprof(url: string, service: string, body: Uint8Array): Promise<void> {
  const res = await ingest(url, { name: service, format: 'pprof' }, Buffer.from(body));
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

/** The value of one series in a /metrics body, or undefined. */
export function metricValue(body: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}=${JSON.stringify(v)}`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export interface Load {
  /** When each pushed profile starts (ms). */
  readonly stamps: number[];
  /** Stops pushing; profiles already pushed stay in the store. */
  stop(): void;
}

/**
 * A steady workload: the profile re-stamped on a lattice of its own length (`periodMs`), each copy
 * pushed a second before it starts. A window as long as the period then always holds exactly one copy
 * — the previous leaves as the next enters — so the figures stay at the profile's own rate while the
 * load runs. Bounded: at most `maxPushes` pushes.
 */
export function startLoad(url: string, service: string, profile: CorpusCpuProfile, periodMs: number, maxPushes = 10): Load {
  const stamps: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const first = Date.now() - 2000;
  const push = async (k: number) => {
    if (stopped || k >= maxPushes) return;
    const at = first + k * periodMs;
    await ingestPprof(url, service, profile.stamped(at));
    stamps.push(at);
    if (!stopped) timer = setTimeout(() => void push(k + 1).catch(() => undefined), Math.max(0, at + periodMs - 1000 - Date.now()));
  };
  void push(0).catch(() => undefined);
  return {
    stamps,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
