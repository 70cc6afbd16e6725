import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerConfig } from '../../src/config/server-config.js';
import { parseServerConfig } from '../../src/config/server-config.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

/**
 * Two teams' namespaces on one server, for the ownership, cost, overview and report tests.
 *
 * Pushed as Pyroscope folded profiles at sampleRate=1, so each count is one second of CPU: a line
 * `a;b 300` pushed every 10 minutes is 300 s of CPU per 600 s, 0.5 cores. The expected figures are
 * computed from this table alone (expectedFunctions), never from the server's config or answers.
 */
export const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

export interface Workload {
  readonly team: 'payments' | 'search' | undefined;
  readonly service: string;
  readonly namespace: string;
  readonly nodePool: 'spot' | 'ondemand';
  /** Folded stacks pushed every 10 minutes in the reported hour, and in the hour before. */
  readonly now: string;
  readonly before: string;
}

export const WORKLOADS: readonly Workload[] = [
  { team: 'payments', service: 'checkout', namespace: 'payments-prod', nodePool: 'spot', now: 'main;http.serve;checkout.handle;json.decode 300\nmain;http.serve;checkout.handle;db.query 200', before: 'main;http.serve;checkout.handle;json.decode 200\nmain;http.serve;checkout.handle;db.query 200' },
  { team: 'payments', service: 'checkout', namespace: 'payments-prod', nodePool: 'ondemand', now: 'main;http.serve;checkout.handle;json.decode 100', before: 'main;http.serve;checkout.handle;json.decode 100' },
  { team: 'payments', service: 'ledger', namespace: 'payments-prod', nodePool: 'ondemand', now: 'main;ledger.post;crypto.sign 250\nmain;ledger.post;db.query 50', before: 'main;ledger.post;crypto.sign 250\nmain;ledger.post;db.query 50' },
  // fraud.score is new this hour: the payments report must call it a new hotspot.
  { team: 'payments', service: 'settle', namespace: 'payments-batch', nodePool: 'spot', now: 'main;settle.run;csv.parse 120\nmain;settle.run;fraud.score 200', before: 'main;settle.run;csv.parse 120' },
  { team: 'search', service: 'indexer', namespace: 'search', nodePool: 'ondemand', now: 'main;index.build;tokenize 400', before: 'main;index.build;tokenize 400' },
  { team: 'search', service: 'query', namespace: 'search', nodePool: 'spot', now: 'main;query.run;bm25.score 150\nmain;query.run;json.decode 50', before: 'main;query.run;bm25.score 100\nmain;query.run;json.decode 50' },
  // Nobody's: in no team's report.
  { team: undefined, service: 'proxy', namespace: 'infra', nodePool: 'ondemand', now: 'main;proxy.forward;tls.write 500', before: 'main;proxy.forward;tls.write 500' },
];

/** Prices of CONFIG, restated for the expectations: per core-hour, spot cheaper. */
export const PRICE = { ondemand: 0.04, spot: 0.01 } as const;

export const CONFIG = `
teams:
  payments: '{namespace=~"payments-.*"}'
  search: '{namespace="search"}'
cost:
  core_hour: 0.04
  currency: USD
  prices:
    - { match: '{node_pool="spot"}', core_hour: 0.01 }
`;

const PUSHES = 6;
const PUSH_S = 600;
export const HOUR_MS = 3_600_000;

/** The reported hour: whole minutes, ending at the last whole minute. */
export function reportedHour(nowMs = Date.now()): { from: number; to: number } {
  const to = Math.floor(nowMs / 60_000) * 60_000;
  return { from: to - HOUR_MS, to };
}

export async function ingestFolded(url: string, name: string, folded: string, fromS: number, sampleRate = 1): Promise<void> {
  const q = new URLSearchParams({ name, from: String(fromS), until: String(fromS + PUSH_S), format: 'folded', sampleRate: String(sampleRate) });
  const res = await fetch(`${url}/ingest?${q}`, { method: 'POST', body: `${folded}\n` });
  if (!res.ok) throw new Error(`ingest ${name}: ${res.status} ${await res.text()}`);
}

/** Pushes every workload: six pushes in the reported hour, six in the hour before. */
export async function pushWorkloads(url: string, hour: { from: number; to: number }): Promise<void> {
  for (const w of WORKLOADS) {
    const name = `${w.service}.cpu{namespace=${w.namespace},node_pool=${w.nodePool}}`;
    for (let i = 0; i < PUSHES; i++) {
      const offset = 300 + i * PUSH_S; // 5, 15, … 55 minutes into the hour
      await ingestFolded(url, name, w.now, hour.from / 1000 + offset);
      await ingestFolded(url, name, w.before, (hour.from - HOUR_MS) / 1000 + offset);
    }
  }
}

export interface ExpectedFunction {
  /** CPU seconds where the function is the leaf, over the hour. */
  selfSeconds: number;
  totalSeconds: number;
  /** Money over the hour at PRICE. */
  selfCost: number;
  totalCost: number;
  previousSelfSeconds: number;
}

/** Per function of a team (or of a service): from WORKLOADS alone. */
export function expectedFunctions(pick: (w: Workload) => boolean): Map<string, ExpectedFunction> {
  const out = new Map<string, ExpectedFunction>();
  const get = (name: string) => {
    let e = out.get(name);
    if (!e) out.set(name, (e = { selfSeconds: 0, totalSeconds: 0, selfCost: 0, totalCost: 0, previousSelfSeconds: 0 }));
    return e;
  };
  for (const w of WORKLOADS.filter(pick)) {
    const price = PRICE[w.nodePool];
    for (const [text, current] of [[w.now, true], [w.before, false]] as const) {
      for (const line of text.split('\n')) {
        const [stack, count] = line.split(' ') as [string, string];
        const seconds = Number(count) * PUSHES;
        const frames = stack.split(';');
        const leaf = frames[frames.length - 1]!;
        if (!current) {
          get(leaf).previousSelfSeconds += seconds;
          continue;
        }
        get(leaf).selfSeconds += seconds;
        get(leaf).selfCost += (seconds / 3600) * price;
        for (const f of new Set(frames)) {
          get(f).totalSeconds += seconds;
          get(f).totalCost += (seconds / 3600) * price;
        }
      }
    }
  }
  return out;
}

export interface ConfiguredServer {
  readonly url: string;
  readonly server: RunningServer;
  /** Store reads by method, counted since the last reset. */
  readonly calls: Map<string, number>;
  setConfig(yaml: string): void;
  close(): Promise<void>;
}

/** A real server (DuckDB in a temp dir) with a config; every store read is counted. */
export async function startConfiguredServer(yaml: string, opts: { uiDir?: string } = {}): Promise<ConfiguredServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-teams-'));
  const store = await openStore(dir, { threads: 2 });
  const calls = new Map<string, number>();
  let config: ServerConfig = parseServerConfig(yaml, 'kiln.yaml');
  const server = await startServer({ store: counting(store, calls), host: '127.0.0.1', port: 0, uiDir: opts.uiDir, config: () => config });
  return {
    url: server.url,
    server,
    calls,
    setConfig: (text) => (config = parseServerConfig(text, 'kiln.yaml')),
    async close() {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function counting(store: Store, calls: Map<string, number>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
