import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/clickhouse.js';

/**
 * Real Prometheus and Alertmanager (Debian packages `prometheus`, `prometheus-alertmanager`, which
 * `npm run test:all` installs) as child processes on free loopback ports, each with its own config and
 * data in a temp directory. A missing binary fails the test saying so; nothing is skipped.
 */
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

export function requireBinary(file: string, pkg: string): void {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new Error(`${file} is missing: install the Debian package ${pkg} (npm run test:all does)`);
  }
}

export interface Service {
  readonly url: string;
  readonly dir: string;
  /** Output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

async function startService(bin: string, args: (dir: string, port: number) => string[], setup: (dir: string) => Promise<void>, name: string, fixedPort?: number): Promise<Service> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `kiln-${name}-`));
  await setup(dir);
  const port = fixedPort ?? (await freePorts(1))[0];
  const child: ChildProcess = spawn(bin, args(dir, port!), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`${name} exited with ${child.exitCode} at start-up:\n${out}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} was not ready within 30 s:\n${out}`);
    }
    await sleep(200);
  }
  return { url, dir, output: () => out, stop };
}

export interface PrometheusOptions {
  /** Kiln's host:port to scrape every second; none = no scrape job. */
  readonly scrapeTarget?: string;
  /** Rule files (contents) Prometheus loads, evaluated every second. */
  readonly ruleFiles?: readonly string[];
  /** Accept remote write at /api/v1/write. */
  readonly remoteWriteReceiver?: boolean;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Service> {
  requireBinary(PROMETHEUS, 'prometheus');
  const files = (opts.ruleFiles ?? []).map((_, i) => `rules-${i}.yaml`);
  return startService(
    PROMETHEUS,
    (dir, port) => [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(opts.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
    ],
    async (dir) => {
      for (let i = 0; i < files.length; i++) await writeFile(path.join(dir, files[i]!), opts.ruleFiles![i]!);
      const scrape = opts.scrapeTarget
        ? `scrape_configs:\n  - job_name: kiln\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs: [{ targets: ['${opts.scrapeTarget}'] }]\n`
        : 'scrape_configs: []\n';
      const rules = files.length ? `rule_files:\n${files.map((f) => `  - ${path.join(dir, f)}\n`).join('')}` : '';
      await writeFile(path.join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\n${rules}${scrape}`);
    },
    'prometheus',
  );
}

/** `port`: listen there (a port reserved earlier, so a client can be pointed at it before it starts). */
export async function startAlertmanager(port?: number): Promise<Service> {
  requireBinary(ALERTMANAGER, 'prometheus-alertmanager');
  return startService(
    ALERTMANAGER,
    (dir, port) => [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip port: a lone test instance needs no cluster.
      '--cluster.listen-address=',
    ],
    async (dir) => {
      await writeFile(path.join(dir, 'alertmanager.yml'), "route: { receiver: 'none', group_wait: 1s, group_interval: 1s, repeat_interval: 1h }\nreceivers: [ { name: 'none' } ]\n");
    },
    'alertmanager',
    port,
  );
}

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query through Prometheus' HTTP API, as Grafana sends it. */
export async function promQuery(prom: Service, query: string): Promise<PromVector[]> {
  const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromVector[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${query}: ${body.error}`);
  return body.data!.result;
}

/** Polls `probe` every 500 ms until it returns a value, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    await sleep(500);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `promtool check rules FILE`: exit code and output. */
export function promtoolCheckRules(file: string): { code: number | null; output: string } {
  requireBinary(PROMTOOL, 'prometheus');
  const r = spawnSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}
