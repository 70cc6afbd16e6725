import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigYaml, resolveConfig } from '../../src/agent/config.js';
import { startMetadata, type Metadata } from '../../src/agent/metadata/index.js';
import { labelsToRecord } from '../../src/model/index.js';
import { loadManifests, type ClusterRole, type ConfigMap, type PolicyRule, type RoleBinding, type Workload } from './manifests.js';
import { isAllowed, requestAttributes, rulesFor, startRbacApiServer, type RbacApiServer } from './rbac-apiserver.js';

/**
 * The agent as deployed: its service account's RBAC (from the manifests) enforced by a stand-in API
 * server, its relabel rules from the ConfigMap, on a node whose /proc is a temp dir. What comes out is
 * what a user sees as labels in the UI.
 */

const m = loadManifests();
const daemonSet = m.get<Workload>('DaemonSet', 'kiln-agent');
const podSpec = daemonSet.spec.template.spec;
const serviceAccount = { namespace: daemonSet.metadata.namespace!, name: podSpec.serviceAccountName ?? 'default' };
const rules = rulesFor(serviceAccount, m.ofKind<ClusterRole>('ClusterRole'), m.ofKind<RoleBinding>('ClusterRoleBinding'));
const agentConfig = resolveConfig(parseConfigYaml(m.get<ConfigMap>('ConfigMap', 'kiln-agent-config').data['agent.yaml']!), {});

const NODE = 'worker-7';
const TOKEN = 'service-account-token';
const hex = (c: string) => c.repeat(64);
const uid = (n: number) => `0000000${n}-aaaa-bbbb-cccc-dddddddddddd`;

function pod(n: number, name: string, opts: { node?: string; annotations?: Record<string, string>; owner?: string; hash?: string } = {}) {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: uid(n),
      resourceVersion: String(n),
      labels: { team: 'payments', ...(opts.hash ? { 'pod-template-hash': opts.hash } : {}) },
      annotations: opts.annotations ?? {},
      ownerReferences: opts.owner ? [{ kind: 'ReplicaSet', name: opts.owner, controller: true }] : [],
    },
    spec: { nodeName: opts.node ?? NODE },
    status: { containerStatuses: [{ name: 'app', containerID: `containerd://${hex(String(n))}` }] },
  };
}

const PODS = [
  pod(1, 'checkout-7d4b9c8f5d-x2x9z', { owner: 'checkout-7d4b9c8f5d', hash: '7d4b9c8f5d' }),
  pod(2, 'legacy-0', { annotations: { 'kiln.io/service-name': 'legacy-billing' } }),
  pod(3, 'batch-0', { annotations: { 'kiln.io/profile': 'false' } }),
  pod(4, 'elsewhere-0', { node: 'worker-8' }),
];

let dir: string;
/** A process as the agent's /proc shows it, cgroup paths relative to the agent's own cgroup namespace. */
function fakeProcess(pid: number, comm: string, cgroup: string, exe?: string): void {
  const p = path.join(dir, 'proc', String(pid));
  mkdirSync(p, { recursive: true });
  writeFileSync(path.join(p, 'comm'), `${comm}\n`);
  writeFileSync(path.join(p, 'cgroup'), `0::${cgroup}\n`);
  writeFileSync(path.join(p, 'stat'), `${pid} (${comm}) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${pid * 10} 0\n`);
  if (exe) symlinkSync(exe, path.join(p, 'exe'));
}
const inPod = (n: number) => `/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid(n).replace(/-/g, '_')}.slice/cri-containerd-${hex(String(n))}.scope`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-deploy-'));
  fakeProcess(101, 'checkout', inPod(1), '/app/checkout');
  fakeProcess(102, 'java', inPod(2), '/usr/bin/java');
  fakeProcess(103, 'python3', inPod(3), '/usr/bin/python3');
  fakeProcess(104, 'kworker/3:1', '/../../..');
  fakeProcess(105, 'containerd', '/../../../system.slice/containerd.service', '/usr/bin/containerd');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startAgentMetadata(api: RbacApiServer, logs: string[]): Promise<Metadata> {
  const meta = startMetadata({
    nodeName: NODE,
    procRoot: path.join(dir, 'proc'),
    relabelConfigs: agentConfig.relabelConfigs,
    kubernetes: { server: api.url, token: () => TOKEN },
    log: (line) => logs.push(line),
  });
  // The labeler does not wait for the API server; the test waits for the first list (or the first refusal).
  for (let i = 0; i < 200 && meta.pods!.index.size === 0 && meta.pods!.counters.errors === 0; i++) await new Promise((r) => setTimeout(r, 25));
  return meta;
}

describe('agent RBAC', () => {
  it('grants read access to pods and nothing else', () => {
    expect(rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    expect(podSpec.automountServiceAccountToken).not.toBe(false);
  });

  it('lets the agent list and watch the pods of its own node, and only those', async () => {
    const api = await startRbacApiServer({ token: TOKEN, rules, pods: PODS });
    const logs: string[] = [];
    const meta = await startAgentMetadata(api, logs);
    try {
      await new Promise((r) => setTimeout(r, 100)); // the watch request follows the list
      expect(logs.filter((l) => /HTTP 40[13]/.test(l))).toEqual([]);
      expect(meta.pods!.counters.errors).toBe(0);
      expect(meta.pods!.index.size).toBe(3); // worker-8's pod is not this node's
      const asked = api.requests.map((r) => r.attributes?.verb);
      expect(asked).toEqual(expect.arrayContaining(['list', 'watch']));
      for (const r of api.requests) {
        expect(r.allowed, `${r.url.pathname}${r.url.search}`).toBe(true);
        expect(r.url.searchParams.get('fieldSelector')).toBe(`spec.nodeName=${NODE}`);
      }
    } finally {
      await meta.stop();
      await api.close();
    }
  });

  it('would be refused by the API server with a role that lacks watch (the check can fail)', async () => {
    const noWatch: PolicyRule[] = rules.map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== 'watch') }));
    expect(isAllowed(noWatch, requestAttributes(new URL('http://x/api/v1/pods?watch=1')))).toBe(false);
    expect(isAllowed(rules, requestAttributes(new URL('http://x/api/v1/nodes')))).toBe(false);
    const api = await startRbacApiServer({ token: TOKEN, rules: noWatch, pods: PODS });
    const logs: string[] = [];
    const meta = await startAgentMetadata(api, logs);
    try {
      for (let i = 0; i < 200 && meta.pods!.counters.errors === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(logs.join('\n')).toMatch(/HTTP 403/);
    } finally {
      await meta.stop();
      await api.close();
    }
  });
});

describe('agent ConfigMap relabel rules', () => {
  let api: RbacApiServer;
  let meta: Metadata;
  beforeAll(async () => {
    api = await startRbacApiServer({ token: TOKEN, rules, pods: PODS });
    meta = await startAgentMetadata(api, []);
  });
  afterAll(async () => {
    await meta?.stop();
    await api?.close();
  });
  const labels = (pid: number, comm: string) => labelsToRecord(meta.labeler.labels(pid, comm));

  it('labels a pod\'s process with its workload, namespace, pod, container and pod labels', () => {
    const l = labels(101, 'checkout');
    expect(l).toMatchObject({ service_name: 'checkout', namespace: 'shop', pod: 'checkout-7d4b9c8f5d-x2x9z', container: 'app', team: 'payments', node: NODE });
    // The cgroup as the host names it, not relative to the agent's container.
    expect(l.cgroup).toBe(inPod(1).replace('/../..', ''));
    expect(Object.keys(l).filter((k) => k.startsWith('__'))).toEqual([]);
  });

  it('takes service_name from the kiln.io/service-name annotation', () => {
    expect(labels(102, 'java')).toMatchObject({ service_name: 'legacy-billing', pod: 'legacy-0' });
  });

  it('drops pods annotated kiln.io/profile: "false" and kernel worker threads', () => {
    expect(labels(103, 'python3')).toEqual({});
    expect(labels(104, 'kworker/3:1')).toEqual({});
  });

  it('keeps host services, with the host cgroup path', () => {
    expect(labels(105, 'containerd')).toMatchObject({ service_name: 'containerd', systemd_unit: 'containerd.service', cgroup: '/system.slice/containerd.service' });
  });
});
