import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Unavailable } from '../../src/model/errors.js';
import { QueryEngine } from '../../src/query/engine.js';
import type { ServerContext } from '../../src/server/context.js';
import { DEFAULT_LIMITS } from '../../src/server/context.js';
import { ClientClosedRequest } from '../../src/server/deadline.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { buildApp, startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import type { MergeQuery, SeriesQuery, Store } from '../../src/store/store.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const DEADLINE_MS = 300;

/** What a read of the scripted store does before it answers (empty): throw, hang, or nothing. */
type Behaviour = (signal: AbortSignal | undefined) => Promise<void>;

const ok: Behaviour = async () => undefined;
const down: Behaviour = async () => {
  throw new Unavailable('store clickhouse://ch:8123/kiln is unreachable: connect ECONNREFUSED', 7);
};
/** An engine that honours the signal: it stops and rejects with the reason. */
const slowButHonest: Behaviour = (signal) =>
  new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('query interrupted by the engine')), { once: true }));
/** An engine that never answers and ignores the signal. */
const hung: Behaviour = () => new Promise(() => undefined);

/** A store whose reads behave as told and record the signal each got. */
class ScriptedStore implements Store {
  behaviour: Behaviour = ok;
  readonly signals: (AbortSignal | undefined)[] = [];
  private async read<T>(signal: AbortSignal | undefined, answer: T): Promise<T> {
    this.signals.push(signal);
    await this.behaviour(signal);
    return answer;
  }
  write: Store['write'] = async () => {
    await this.behaviour(undefined);
    return { profiles: 0, rows: 0 };
  };
  profileTypes = (q: SeriesQuery) => this.read(q.signal, []);
  labelNames = (q: SeriesQuery) => this.read(q.signal, []);
  labelValues = (q: SeriesQuery) => this.read(q.signal, []);
  series = (q: SeriesQuery) => this.read(q.signal, []);
  mergeStacks = (q: MergeQuery) => this.read(q.signal, []);
  mergeStacksGrouped: Store['mergeStacksGrouped'] = (q) => this.read(q.signal, []);
  resolveStacks: Store['resolveStacks'] = (_t, _ids, signal) => this.read(signal, { dict: { mappings: [], functions: [], locations: [], stacks: [] }, stacks: new Map() });
  seriesPoints: Store['seriesPoints'] = (q) => this.read(q.signal, []);
  listProfiles: Store['listProfiles'] = (q) => this.read(q.signal, []);
  listSpans: Store['listSpans'] = (q) => this.read(q.signal, []);
  footprint: Store['footprint'] = (q) => this.read(q.signal, { series: 0, profiles: 0, samples: 0, sampleBytes: 0 });
  dropBefore = async () => 0;
  stats = async () => ({ series: 0, rows: 0, bytesOnDisk: 0 });
  health = () => this.behaviour(undefined);
  close = async () => undefined;
}

const store = new ScriptedStore();
let app: FastifyInstance;
beforeAll(async () => {
  const ctx: ServerContext = { store, query: new QueryEngine(store), metrics: new ServerMetrics(store), limits: { ...DEFAULT_LIMITS, readDeadlineMs: DEADLINE_MS } };
  app = await buildApp(ctx);
});
afterAll(async () => app?.close());

const topUrl = `/api/v1/top?query=${encodeURIComponent(`${CPU}{service_name="api"}`)}`;
const connect = (method: string, body: unknown) =>
  app.inject({ method: 'POST', url: `/querier.v1.QuerierService/${method}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

describe('store unavailable → 503 with Retry-After', () => {
  it('over HTTP: reads and ingest answer 503, Retry-After from the error, the message naming the store', async () => {
    store.behaviour = down;
    for (const url of [topUrl, `/pyroscope/labels?query=${encodeURIComponent('{service_name="api"}')}`]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['retry-after'], url).toBe('7');
      expect(res.json().error).toMatch(/clickhouse:\/\/ch:8123\/kiln is unreachable/);
    }
    const ingest = await app.inject({ method: 'POST', url: `/ingest?name=api&format=folded&profile_type=${CPU}`, payload: 'main;work 10\n' });
    expect(ingest.statusCode).toBe(503);
    expect(ingest.headers['retry-after']).toBe('7');
  });

  it('over Connect: code unavailable, with retry-after in the response metadata', async () => {
    store.behaviour = down;
    const res = await connect('LabelNames', { matchers: [], start: '0', end: '1000' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/unreachable/) });
    expect(res.headers['retry-after']).toBe('7');
  });
});

describe('a read past its deadline', () => {
  it('answers 504 naming the deadline, and the store saw the signal abort', async () => {
    store.behaviour = slowButHonest;
    store.signals.length = 0;
    const started = Date.now();
    const res = await app.inject({ method: 'GET', url: topUrl });
    expect(res.statusCode).toBe(504);
    expect(res.json().error).toMatch(/did not finish within the server's 0\.3 s deadline/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(store.signals.at(-1)?.aborted).toBe(true);
  });

  it('is answered on time even when the engine ignores the signal', async () => {
    store.behaviour = hung;
    const started = Date.now();
    const res = await app.inject({ method: 'GET', url: `/pyroscope/render?query=${encodeURIComponent(CPU)}` });
    expect(res.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('over Connect: code deadline_exceeded, naming the deadline', async () => {
    store.behaviour = hung;
    const res = await connect('SelectMergeStacktraces', { profileTypeID: CPU, labelSelector: '{}', start: '0', end: '1000' });
    expect(res.json()).toMatchObject({ code: 'deadline_exceeded', message: expect.stringMatching(/0\.3 s deadline/) });
  });

  it('every read carries the request signal down to the store', async () => {
    store.behaviour = ok;
    store.signals.length = 0;
    expect((await app.inject({ method: 'GET', url: topUrl })).statusCode).toBe(200);
    expect((await connect('LabelValues', { name: 'pod', matchers: ['{a="b"}'], start: '0', end: '1000' })).statusCode).toBe(200);
    expect((await connect('ProfileTypes', { start: '0', end: '1000' })).statusCode).toBe(200);
    expect(store.signals.length).toBeGreaterThanOrEqual(3);
    for (const s of store.signals) expect(s).toBeInstanceOf(AbortSignal);
  });
});

describe('a client that goes away', () => {
  let server: RunningServer;
  const gone = new ScriptedStore();
  beforeAll(async () => {
    server = await startServer({ store: gone, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => server?.close());

  it('aborts the store read it was waiting for', async () => {
    gone.behaviour = slowButHonest;
    const client = new AbortController();
    const request = fetch(`${server.url}${topUrl}`, { signal: client.signal }).catch(() => undefined);
    for (let i = 0; i < 100 && gone.signals.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gone.signals).toHaveLength(1);
    client.abort();
    await request;
    const signal = gone.signals[0]!;
    for (let i = 0; i < 100 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 20));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(ClientClosedRequest);
  });
});
