import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inClusterConfig } from '../../../src/agent/metadata/kube-config.js';
import { PodWatcher } from '../../../src/agent/metadata/pod-watcher.js';
import { fixture, selfSignedCert, startFakeApiServer } from './fake-apiserver.js';

const id = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

let dir: string;
let tls: { key: Buffer; cert: Buffer };
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-k8s-'));
  tls = selfSignedCert(dir);
  writeFileSync(path.join(dir, 'token'), 'sa-token-1\n');
  writeFileSync(path.join(dir, 'ca.crt'), tls.cert);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('in-cluster config', () => {
  it('builds the API server URL, token and CA from the service account mount and environment', () => {
    const cfg = inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir)!;
    expect(cfg.server).toBe('https://10.96.0.1:443');
    expect(cfg.token()).toBe('sa-token-1');
    expect(cfg.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir)!.server).toBe('https://[fd00::1]:443');
    expect(inClusterConfig({}, dir)).toBeUndefined();
  });
});

describe('PodWatcher against a replayed API server', () => {
  it('lists and watches only this node’s pods, follows changes, relists when the version is gone', async () => {
    const api = await startFakeApiServer({
      ...tls,
      token: 'sa-token-1',
      lists: [fixture('pods-list.json'), fixture('pods-relist.json')],
      watches: [
        { events: fixture('pods-watch.jsonl'), hold: false },
        { events: fixture('pods-watch-gone.jsonl'), hold: false },
        { events: '', hold: true },
      ],
    });
    const config = inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, dir)!;
    const errors: Error[] = [];
    const w = new PodWatcher({ config, nodeName: 'node-a', retryMs: 20, onError: (e) => errors.push(e) });
    try {
      await w.start();
      // After the first list: every container of the three pods, init containers included.
      const first = api.requests[0]!;
      expect(first.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
      expect(first.authorization).toBe('Bearer sa-token-1');

      // The first watch (from the list's version) brings a restart, a new pod, a deletion, a bookmark.
      await until(() => w.counters.lists === 2, 'the relist after 410 Gone');
      await until(() => api.requests.length >= 5, 'the watch after the relist');
      const watches = api.requests.filter((r) => r.query.get('watch') === '1');
      expect(watches.map((r) => r.query.get('resourceVersion'))).toEqual(['184480', '184530', '190020']);
      expect(watches.every((r) => r.query.get('fieldSelector') === 'spec.nodeName=node-a')).toBe(true);

      const idx = w.index;
      const checkout = idx.byContainerId(id(0x16))!;
      expect(checkout).toMatchObject({ namespace: 'shop-prod', pod: 'checkout-7d9f8b6c5d-x2k9p', container: 'checkout', workload: { kind: 'Deployment', name: 'checkout' } });
      expect(checkout.labels.team).toBe('payments');
      expect(checkout.annotations.owner).toBe('alice@example.com');
      expect(idx.byContainerId(id(0x11))).toBeUndefined(); // the container before the restart
      expect(idx.byContainerId(id(0x17))).toMatchObject({ pod: 'redis-0', workload: { kind: 'StatefulSet', name: 'redis' } });
      expect(idx.byContainerId(id(0x15))).toMatchObject({ namespace: 'monitoring', workload: { kind: 'DaemonSet', name: 'node-exporter' } });
      expect(idx.byContainerId(id(0x18))).toMatchObject({ pod: 'frontend-5b6c7d8e9f-mn4pq', workload: { kind: 'Deployment', name: 'frontend' } });
      // The relist did not contain the deleted report pod.
      expect(idx.byContainerId(id(0x14))).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await w.stop();
      await api.close();
    }
  });

  it('reflects watch events before any relist: restart, new pod, deleted pod kept for its grace period', async () => {
    const api = await startFakeApiServer({ ...tls, token: 'sa-token-1', lists: [fixture('pods-list.json')], watches: [{ events: fixture('pods-watch.jsonl'), hold: true }] });
    const config = { server: api.url, token: () => 'sa-token-1', ca: tls.cert };
    const w = new PodWatcher({ config, nodeName: 'node-a' });
    try {
      await w.start();
      expect(w.index.byContainerId(id(0x13))).toMatchObject({ container: 'istio-init' });
      expect(w.index.byContainerId(id(0x14))).toMatchObject({ namespace: 'batch', workload: { kind: 'CronJob', name: 'report' } });
      await until(() => w.counters.events === 5, 'the five watch events');
      expect(w.index.byContainerId(id(0x16))?.container).toBe('checkout');
      expect(w.index.byContainerId(id(0x17))?.pod).toBe('redis-0');
      // Deleted, but samples read just after still get its labels; a minute later it is gone.
      expect(w.index.byContainerId(id(0x14))?.pod).toBe('report-28911520-q7wz4');
      expect(w.index.byContainerId(id(0x14), Date.now() + 61_000)).toBeUndefined();
    } finally {
      await w.stop();
      await api.close();
    }
  });

  it('reports an API server that rejects the token, and keeps retrying', async () => {
    const api = await startFakeApiServer({ ...tls, token: 'right', lists: [fixture('pods-list.json')], watches: [{ events: '', hold: true }] });
    const errors: Error[] = [];
    const w = new PodWatcher({ config: { server: api.url, token: () => 'wrong', ca: tls.cert }, nodeName: 'node-a', retryMs: 10, onError: (e) => errors.push(e) });
    try {
      void w.start();
      await until(() => errors.length >= 2, 'two failed attempts');
      expect(errors[0]!.message).toMatch(/HTTP 401/);
    } finally {
      await w.stop();
      await api.close();
    }
  });
});
