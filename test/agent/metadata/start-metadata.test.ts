import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, labelsToRecord } from '../../../src/model/index.js';
import { startMetadata } from '../../../src/agent/metadata/index.js';
import { fixture, selfSignedCert, startFakeApiServer } from './fake-apiserver.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-meta-'));
  const p = path.join(dir, 'proc', '77');
  mkdirSync(p, { recursive: true });
  writeFileSync(path.join(p, 'comm'), 'redis-server\n');
  writeFileSync(path.join(p, 'cgroup'), `0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-${'17'.repeat(32)}.scope\n`);
  writeFileSync(path.join(p, 'stat'), `77 (redis-server) S ${Array.from({ length: 18 }, () => '0').join(' ')} 555 0\n`);
  symlinkSync('/usr/local/bin/redis-server', path.join(p, 'exe'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('startMetadata', () => {
  it('wires relabel rules and the pod watch into one labeler', async () => {
    const tls = selfSignedCert(dir);
    const api = await startFakeApiServer({ ...tls, token: 't', lists: [fixture('pods-relist.json')], watches: [{ events: '', hold: true }] });
    const logs: string[] = [];
    const meta = startMetadata({
      nodeName: 'node-a',
      procRoot: path.join(dir, 'proc'),
      kubernetes: { server: api.url, token: () => 't', ca: tls.cert },
      relabelConfigs: [{ action: 'replace', source_labels: ['namespace', 'container'], separator: '/', target_label: 'service_name' }],
      log: (l) => logs.push(l),
    });
    try {
      // The labeler does not wait for the API server; the test does, for the first list.
      for (let i = 0; i < 200 && meta.pods!.index.size === 0; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 20)); // the "watching" log line follows the list
      const l = labelsToRecord(meta.labeler.labels(77, 'redis-server'));
      expect(l).toMatchObject({ service_name: 'shop-prod/redis', namespace: 'shop-prod', pod: 'redis-0', team: 'payments', node: 'node-a' });
      expect(logs.join('\n')).toMatch(/watching pods on node node-a/);
    } finally {
      await meta.stop();
      await api.close();
    }
  });

  it('says so when no pod is on the node it watches (a wrong node name)', async () => {
    const tls = selfSignedCert(dir);
    const empty = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '5' }, items: [] });
    const api = await startFakeApiServer({ ...tls, token: 't', lists: [empty], watches: [{ events: '', hold: true }] });
    const logs: string[] = [];
    const meta = startMetadata({ nodeName: 'kiln-agent-7xk2p', kubernetes: { server: api.url, token: () => 't', ca: tls.cert }, log: (l) => logs.push(l) });
    try {
      for (let i = 0; i < 200 && logs.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
      expect(logs.join('\n')).toMatch(/no pods found on node "kiln-agent-7xk2p": set --node-name or NODE_NAME/);
    } finally {
      await meta.stop();
      await api.close();
    }
  });

  it('stops at startup on a bad relabel rule, and runs without Kubernetes when told', () => {
    expect(() => startMetadata({ nodeName: 'n', kubernetes: 'off', relabelConfigs: [{ action: 'keep', regex: '(' }] })).toThrow(InputError);
    const meta = startMetadata({ nodeName: 'n', kubernetes: 'off' });
    expect(meta.pods).toBeUndefined();
    expect(labelsToRecord(meta.labeler.labels(process.pid, 'node')).pid).toBe(String(process.pid));
  });
});
