import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import type { ServerConfig } from '../../src/config/server-config.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { freePorts } from '../support/clickhouse.js';
import { startPrometheus } from '../insight/prometheus.js';
import type { Service } from '../insight/prometheus.js';
import { ALL_TIME, querier } from './helpers.js';
import { fetchTargets, untilScraped, type ActiveTarget } from './scrape-support.js';

// A real Go program serving net/http/pprof: Debian's prometheus binary exposes /debug/pprof/*.
let prom: Service;
let kiln: RunningServer;
let store: Store;
let dir: string;
let config: ServerConfig;
let deadPort = 0;

const targets = async (): Promise<ActiveTarget[]> => (await fetchTargets(kiln.url)).activeTargets;
const until = <T>(what: string, probe: () => Promise<T | undefined>, ms?: number): Promise<T> => untilScraped(kiln.url, what, probe, ms);

beforeAll(async () => {
  prom = await startPrometheus({});
  [deadPort] = await freePorts(1);
  const promTarget = new URL(prom.url).host;
  config = parseServerConfig(`
scrape_configs:
  - job_name: prom
    scrape_interval: 3s
    static_configs: [ { targets: ["${promTarget}"], labels: { env: test } } ]
    profiling_config:
      pprof_config:
        goroutine: { enabled: true }
  - job_name: nothing-here
    scrape_interval: 2s
    scrape_timeout: 1s
    static_configs: [ { targets: ["127.0.0.1:${deadPort}"] } ]
    profiling_config: { pprof_config: { memory: { enabled: false } } }
`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-scrape-'));
  store = await openStore(dir, { threads: 2 });
  kiln = await startServer({ store, host: '127.0.0.1', port: 0, config: () => config });
}, 60_000);
afterAll(async () => {
  await kiln?.close();
  await store?.close();
  await prom?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pull mode: scrape_configs of /debug/pprof endpoints', () => {
  it('scrapes a real Go pprof server on schedule: CPU, allocations (as deltas) and goroutines, labelled job/instance', async () => {
    const instance = new URL(prom.url).host;
    // An idle Prometheus burns almost no CPU, so a 2 s CPU profile of it can hold no sample at all (seen
    // in CI on a quiet machine): keep it busy rendering its own /metrics while the profiles are awaited.
    let busy = true;
    const work = (async () => {
      while (busy) await fetch(`${prom.url}/metrics`).then((r) => r.arrayBuffer()).catch(() => undefined);
    })();
    const types = await until('CPU, memory and goroutine profiles from the Go target', async () => {
      const r = await querier<{ profileTypes?: { ID: string }[] }>(kiln.url, 'ProfileTypes', ALL_TIME);
      const ids = (r.body.profileTypes ?? []).map((t) => t.ID);
      const want = ['process_cpu:cpu:nanoseconds:cpu:nanoseconds', 'memory:alloc_space:bytes:space:bytes', 'goroutines:goroutine:count:goroutine:count'];
      return want.every((w) => ids.includes(w)) ? ids : undefined;
    }).finally(() => {
      busy = false;
    });
    await work;
    expect(types).toContain('memory:inuse_space:bytes:space:bytes');
    const jobs = await querier<{ names: string[] }>(kiln.url, 'LabelValues', { name: 'instance', matchers: ['{job="prom", env="test", service_name="prom"}'], ...ALL_TIME });
    expect(jobs.body.names).toEqual([instance]);
    // The goroutine profile is the Go process's own: its runtime functions are in it.
    const fg = await querier<{ flamegraph: { names: string[]; total: string } }>(kiln.url, 'SelectMergeStacktraces', {
      profile_typeID: 'goroutines:goroutine:count:goroutine:count', label_selector: '{job="prom"}', ...ALL_TIME,
    });
    expect(Number(fg.body.flamegraph.total)).toBeGreaterThan(0);
    expect(fg.body.flamegraph.names.some((n) => n.startsWith('runtime.'))).toBe(true);

    const health = await targets();
    const prom3 = health.filter((t) => t.job === 'prom');
    expect(prom3.map((t) => t.profile).sort()).toEqual(['goroutines', 'memory', 'process_cpu']);
    expect(prom3.every((t) => t.health === 'up' && t.lastError === '' && t.instance === instance)).toBe(true);
  }, 150_000);

  it('reports a target that does not answer as down, with the reason', async () => {
    const down = await until('the dead target marked down', async () => {
      const t = (await targets()).find((x) => x.job === 'nothing-here');
      return t && t.health === 'down' ? t : undefined;
    }, 15_000);
    expect(down.profile).toBe('process_cpu');
    expect(down.lastError).not.toBe('');
    expect((await targets()).filter((x) => x.job === 'nothing-here')).toHaveLength(1);
  });

  it('follows a config reload: a removed job disappears from /targets', async () => {
    config = parseServerConfig('scrape_configs: []\n');
    await until('the jobs removed', async () => ((await targets()).length === 0 ? true : undefined), 5000);
  });

  it('refuses a config it would only half apply', () => {
    expect(() => parseServerConfig('scrape_configs:\n  - job_name: a\n    relabel_config: []\n    static_configs: [{ targets: ["h:1"] }]\n')).toThrow(/relabel_config is not supported/);
    expect(() => parseServerConfig('scrape_configs:\n  - job_name: a\n    static_configs: [{ targets: ["http://h:1/x"] }]\n')).toThrow(/host:port/);
    expect(() => parseServerConfig('scrape_configs:\n  - { job_name: a }\n  - { job_name: a }\n')).toThrow(/used twice/);
  });
});
