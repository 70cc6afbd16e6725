import Pyroscope from '@pyroscope/nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph } from '../../src/formats/flamebearer.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, querier } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** Busy work with a name we can find in the flame graph. */
function kilnSdkBusyLoop(ms: number): number {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
  return x;
}

describe('the real @pyroscope/nodejs SDK pushing to Kiln', () => {
  it('lands its wall profile under service_name with its tags, and the busy function shows up', async () => {
    Pyroscope.init({ serverAddress: srv.url, appName: 'node-sdk-app', tags: { env: 'test' }, flushIntervalMs: 60_000, wall: { samplingDurationMs: 60_000 } });
    Pyroscope.start();
    // Profile briefly, let the event loop breathe so the sampler runs, then flush with stop().
    for (let i = 0; i < 10; i++) {
      kilnSdkBusyLoop(150);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Pyroscope.stop();

    const services = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME });
    expect(services.body.names).toContain('node-sdk-app');
    const env = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'env', matchers: ['{service_name="node-sdk-app"}'], ...ALL_TIME });
    expect(env.body.names).toEqual(['test']);
    const types = await querier<{ labelsSet: { labels: { name: string; value: string }[] }[] }>(srv.url, 'Series', {
      matchers: ['{service_name="node-sdk-app"}'], labelNames: ['__profile_type__'], ...ALL_TIME,
    });
    const typeIds = types.body.labelsSet.map((s) => s.labels[0]!.value);
    const wall = typeIds.find((t) => t.startsWith('wall:'));
    expect(wall, `types stored: ${typeIds.join(', ')}`).toBeDefined();
    const fg = await querier<{ flamegraph: { names: string[]; levels: { values: string[] }[]; total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: wall, label_selector: '{service_name="node-sdk-app"}', ...ALL_TIME,
    });
    expect(Number(fg.body.flamegraph.total)).toBeGreaterThan(0);
    const tree = fromFlameGraph({ names: fg.body.flamegraph.names, levels: fg.body.flamegraph.levels.map((l) => ({ values: l.values.map(Number) })) });
    const names: string[] = [];
    const visit = (n: typeof tree): void => {
      names.push(n.name);
      n.children.forEach(visit);
    };
    visit(tree);
    expect(names.some((n) => n.includes('kilnSdkBusyLoop'))).toBe(true);
  });
});
