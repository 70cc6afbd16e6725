import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph } from '../../src/formats/flamebearer.js';
import { startKilnServer, type CliServer } from '../support/cli.js';
import { ALL_TIME, querier } from './helpers.js';
import { fetchTargets, untilScraped, type TargetsAnswer } from './scrape-support.js';

// A real Node app serving pprof through @datadog/pprof, scraped on schedule by a real `kiln server`
// started from the CLI with a YAML config, as a user runs it.
const APP = fileURLToPath(new URL('../fixtures/pprof-node-app.mjs', import.meta.url));

let app: ChildProcess | undefined;
let kiln: CliServer | undefined;
let dir: string;
let appAddress = '';

const targets = async (): Promise<TargetsAnswer> => fetchTargets(kiln!.url);
const until = <T>(what: string, probe: () => Promise<T | undefined>, ms?: number): Promise<T> => untilScraped(kiln!.url, what, probe, ms);

function startApp(): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [APP], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => reject(new Error(`the Node pprof app exited (${code}) before listening — is @datadog/pprof installed? ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: (JSON.parse(line) as { port: number }).port }));
  });
}

/** Every function name in a Pyroscope flame graph answer. */
function functionNames(fg: { names: string[]; levels: { values: string[] }[] }): string[] {
  const tree = fromFlameGraph({ names: fg.names, levels: fg.levels.map((l) => ({ values: l.values.map(Number) })) });
  const out: string[] = [];
  const visit = (n: typeof tree): void => {
    out.push(n.name);
    n.children.forEach(visit);
  };
  visit(tree);
  return out;
}

beforeAll(async () => {
  const started = await startApp();
  app = started.child;
  appAddress = `127.0.0.1:${started.port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-scrape-node-'));
  // node-app: CPU at the default path, memory at the app's custom /debug/pprof/heap (it has no
  // /debug/pprof/allocs), labels rewritten by relabel_configs. heap-only: the same target, its CPU
  // profile dropped by a rule on __name__, its instance renamed.
  const configFile = path.join(dir, 'kiln.yaml');
  await writeFile(configFile, `
scrape_configs:
  - job_name: node-app
    scrape_interval: 3s
    static_configs: [ { targets: ["${appAddress}"], labels: { env: test, team: payments-eu } } ]
    profiling_config:
      pprof_config:
        memory: { path: /debug/pprof/heap }
    relabel_configs:
      - { source_labels: [team], regex: '(\\w+)-(\\w+)', target_label: region, replacement: '\${2}' }
      - { source_labels: [__address__], regex: '(.*):\\d+', target_label: host }
      - { action: labeldrop, regex: team }
  - job_name: heap-only
    scrape_interval: 3s
    static_configs: [ { targets: ["${appAddress}"] } ]
    profiling_config:
      pprof_config:
        memory: { path: /debug/pprof/heap }
    relabel_configs:
      - { action: keep, source_labels: [__name__], regex: memory }
      - { target_label: instance, replacement: node-app-1 }
`);
  kiln = await startKilnServer(['--data-dir', path.join(dir, 'data'), '--config', configFile]);
}, 90_000);
afterAll(async () => {
  await kiln?.stop();
  app?.kill('SIGTERM');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const WALL = 'process_cpu:wall:nanoseconds:wall:nanoseconds';

describe('pull mode: a real Node app serving pprof (@datadog/pprof), scraped by kiln server', () => {
  it('stores its CPU (wall) and heap profiles with job, instance and relabelled labels; the busy and allocating functions show', async () => {
    const types = await until('the wall and heap profiles from the Node app', async () => {
      const r = await querier<{ profileTypes?: { ID: string }[] }>(kiln!.url, 'ProfileTypes', ALL_TIME);
      const ids = (r.body.profileTypes ?? []).map((t) => t.ID);
      return ids.includes(WALL) && ids.some((id) => id.startsWith('memory:inuse_space:bytes:')) ? ids : undefined;
    });
    const heapType = types.find((id) => id.startsWith('memory:inuse_space:bytes:'))!;

    const values = async (name: string, selector: string) =>
      (await querier<{ names: string[] }>(kiln!.url, 'LabelValues', { name, matchers: [selector], ...ALL_TIME })).body.names;
    expect(await values('instance', '{job="node-app"}')).toEqual([appAddress]);
    expect(await values('region', '{job="node-app"}')).toEqual(['eu']);
    expect(await values('host', '{job="node-app"}')).toEqual(['127.0.0.1']);
    expect(await values('env', '{job="node-app"}')).toEqual(['test']);
    expect(await values('service_name', '{job="node-app"}')).toEqual(['node-app']);
    const names = (await querier<{ names: string[] }>(kiln!.url, 'LabelNames', { matchers: ['{job="node-app"}'], ...ALL_TIME })).body.names;
    // labeldrop removed team; discovery's __ labels are not stored.
    for (const gone of ['team', '__address__', '__scheme__', '__profile_path__', '__scrape_interval__', '__scrape_timeout__']) expect(names).not.toContain(gone);

    const cpu = await querier<{ flamegraph: { names: string[]; levels: { values: string[] }[]; total: string } }>(kiln!.url, 'SelectMergeStacktraces', {
      profile_typeID: WALL, label_selector: '{job="node-app"}', ...ALL_TIME,
    });
    expect(Number(cpu.body.flamegraph.total)).toBeGreaterThan(0);
    expect(functionNames(cpu.body.flamegraph)).toContain('kilnScrapeBusyWork');

    const heap = await until('the retained buffers in the heap profile', async () => {
      const r = await querier<{ flamegraph: { names: string[]; levels: { values: string[] }[]; total: string } }>(kiln!.url, 'SelectMergeStacktraces', {
        profile_typeID: heapType, label_selector: '{job="heap-only"}', ...ALL_TIME,
      });
      return Number(r.body.flamegraph.total) > 0 ? r.body.flamegraph : undefined;
    });
    expect(functionNames(heap)).toContain('kilnRetainBuffers');
    expect(await values('instance', '{job="heap-only"}')).toEqual(['node-app-1']);
  }, 150_000);

  it('shows each target at /targets: health, last scrape, no error; the one a rule dropped among droppedTargets', async () => {
    const t = await targets();
    const nodeApp = t.activeTargets.filter((x) => x.job === 'node-app');
    expect(nodeApp.map((x) => x.profile).sort()).toEqual(['memory', 'process_cpu']);
    for (const x of nodeApp) {
      expect(x.health).toBe('up');
      expect(x.lastError).toBe('');
      expect(Date.now() - Date.parse(x.lastScrape)).toBeLessThan(60_000);
      expect(x.labels).toMatchObject({ job: 'node-app', instance: appAddress, region: 'eu', host: '127.0.0.1' });
      expect(x.discoveredLabels).toMatchObject({ __address__: appAddress, team: 'payments-eu' });
    }
    expect(nodeApp.find((x) => x.profile === 'memory')!.url).toBe(`http://${appAddress}/debug/pprof/heap`);
    expect(nodeApp.find((x) => x.profile === 'process_cpu')!.url).toBe(`http://${appAddress}/debug/pprof/profile?seconds=2`);
    expect(t.activeTargets.filter((x) => x.job === 'heap-only').map((x) => [x.profile, x.instance])).toEqual([['memory', 'node-app-1']]);
    expect(t.droppedTargets).toEqual([expect.objectContaining({ job: 'heap-only', discoveredLabels: expect.objectContaining({ __name__: 'process_cpu' }) })]);

    const metrics = await (await fetch(`${kiln!.url}/metrics`)).text();
    expect(metrics).toContain(`kiln_scrape_target_up{job="node-app",instance="${appAddress}",profile="process_cpu"} 1`);
    const stored = metrics.split('\n').find((l) => l.startsWith(`kiln_scrape_samples_stored{job="node-app",instance="${appAddress}",profile="memory"}`));
    expect(Number(stored?.split(' ')[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/kiln_scrape_duration_seconds\{job="heap-only",instance="node-app-1",profile="memory"\} \d/);
  });

  it('reports the app as down, with the reason, once it stops answering', async () => {
    app!.kill('SIGTERM');
    const down = await until('the stopped app marked down', async () => {
      const t = (await targets()).activeTargets.find((x) => x.job === 'heap-only');
      return t && t.health === 'down' ? t : undefined;
    }, 30_000);
    // Refused once the app is gone; a scrape in flight as it exits sees the socket closed instead.
    expect(down.lastError).toMatch(/ECONNREFUSED|other side closed|ECONNRESET/);
    const metrics = await (await fetch(`${kiln!.url}/metrics`)).text();
    expect(metrics).toContain('kiln_scrape_target_up{job="heap-only",instance="node-app-1",profile="memory"} 0');
  }, 40_000);
});
