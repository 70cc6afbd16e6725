import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labelsToRecord, sanitizeLabelName, validateLabels } from '../../../src/model/index.js';
import { MetadataLabeler } from '../../../src/agent/metadata/labeler.js';
import { oneStatReadEach } from '../../../src/agent/symbolize/proc-maps.js';
import { PodIndex } from '../../../src/agent/metadata/pod-index.js';
import { ContainerNameResolver } from '../../../src/agent/metadata/container-names.js';
import { parsePod } from '../../../src/agent/metadata/kube-pod.js';
import { compileRelabelConfigs } from '../../../src/model/relabel.js';
import { fixture } from './fake-apiserver.js';

const CHECKOUT_ID = '11'.repeat(32);
let proc: string;

/** A fake /proc entry: what the kernel shows for a process (comm, exe link, cgroup, stat). */
function fakeProcess(pid: number, comm: string, exe: string, cgroup: string, startTime = '4242'): void {
  const d = path.join(proc, String(pid));
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'comm'), `${comm}\n`);
  writeFileSync(path.join(d, 'cgroup'), cgroup);
  // Fields after "(comm)": state is field 3, starttime field 22.
  const rest = ['S', ...Array.from({ length: 18 }, (_, i) => String(i)), startTime, '0', '0'];
  writeFileSync(path.join(d, 'stat'), `${pid} (${comm}) ${rest.join(' ')}\n`);
  rmSync(path.join(d, 'exe'), { force: true });
  symlinkSync(exe, path.join(d, 'exe'));
}

function podIndex(): PodIndex {
  const idx = new PodIndex();
  const list = JSON.parse(fixture('pods-list.json')) as { items: unknown[] };
  idx.reset(list.items.map((p) => parsePod(p)!));
  return idx;
}

beforeAll(() => {
  proc = mkdtempSync(path.join(tmpdir(), 'kiln-proc-'));
  fakeProcess(100, 'checkout', '/app/checkout', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5e0c8a1f_2b3d_4c5e_8f9a_0b1c2d3e4f5a.slice/cri-containerd-${CHECKOUT_ID}.scope\n`);
  fakeProcess(200, 'nginx', '/usr/sbin/nginx', '0::/system.slice/nginx.service\n');
  fakeProcess(300, 'python3', '/usr/bin/python3.11', `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n`);
  // Started in the pod's cgroup before the API server reported its container id.
  fakeProcess(400, 'sidecar', '/usr/local/bin/envoy', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5e0c8a1f_2b3d_4c5e_8f9a_0b1c2d3e4f5a.slice/cri-containerd-${'99'.repeat(32)}.scope\n`);
});
afterAll(() => rmSync(proc, { recursive: true, force: true }));

describe('MetadataLabeler', () => {
  it('trusts a start time vouched for in the pass instead of reading /proc, and reads the process again when the vouched one differs', () => {
    fakeProcess(600, 'worker', '/usr/bin/worker', '0::/system.slice/worker.service\n', '1000');
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a' });
    expect(labelsToRecord(labeler.labels(600, 'worker')).service_name).toBe('worker');
    // /proc now shows another process under pid 600; a pass that vouches for the first one keeps its labels.
    fakeProcess(600, 'other', '/usr/bin/other', '0::/system.slice/other.service\n', '2000');
    const vouched = oneStatReadEach(() => labeler.labels(600, 'worker'), () => '1000');
    expect(labelsToRecord(vouched).executable, 'the vouched process: no /proc read').toBe('/usr/bin/worker');
    // Without the vouch the start time is read, the pid found reused, and the new process labelled.
    expect(labelsToRecord(labeler.labels(600, 'other')).executable).toBe('/usr/bin/other');
  });

  it('reads a process again when it renamed itself since it was first labelled (node\'s process.title)', () => {
    fakeProcess(500, 'node', '/usr/bin/node', '0::/user.slice/session-1.scope\n', '7777');
    const rules = compileRelabelConfigs([{ source_labels: ['comm'], regex: 'kiln-renamed', action: 'keep' }]);
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', relabel: rules });
    // First seen (the agent asks with no name) before the rename: dropped by the keep rule.
    expect(labeler.labels(500, '')).toEqual([]);
    fakeProcess(500, 'kiln-renamed', '/usr/bin/node', '0::/user.slice/session-1.scope\n', '7777');
    // The kernel now names it kiln-renamed: the same process (same start time), labelled anew.
    expect(labelsToRecord(labeler.labels(500, 'kiln-renamed')).comm).toBe('kiln-renamed');
    // Renamed again, then gone before its samples are read: named as the kernel last named it.
    fakeProcess(501, 'node', '/usr/bin/node', '0::/user.slice/session-1.scope\n', '8888');
    expect(labeler.labels(501, '')).toEqual([]);
    rmSync(path.join(proc, '501'), { recursive: true, force: true });
    expect(labelsToRecord(labeler.labels(501, 'kiln-renamed'))).toMatchObject({ comm: 'kiln-renamed', executable: '/usr/bin/node' });
  });

  it('labels a Kubernetes container with its workload, namespace, pod, container and pod labels', () => {
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: podIndex() });
    expect(labelsToRecord(labeler.labels(100, 'worker-thread'))).toEqual({
      service_name: 'checkout',
      namespace: 'shop-prod',
      pod: 'checkout-7d9f8b6c5d-x2k9p',
      container: 'checkout',
      team: 'payments',
      app: 'checkout',
      app_kubernetes_io_part_of: 'shop',
      security_istio_io_tlsMode: 'istio',
      comm: 'checkout',
      pid: '100',
      executable: '/app/checkout',
      node: 'node-a',
      container_id: CHECKOUT_ID,
      cgroup: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5e0c8a1f_2b3d_4c5e_8f9a_0b1c2d3e4f5a.slice/cri-containerd-${CHECKOUT_ID}.scope`,
    });
  });

  it('takes `team` from the pod label, else the pod annotation, and from any other key by a relabel rule', () => {
    const list = JSON.parse(fixture('pods-list.json')) as { items: { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }[] };
    const annotated = structuredClone(list.items.find((p) => p.metadata.name.startsWith('report-'))!);
    delete annotated.metadata.labels!['team'];
    annotated.metadata.annotations = { team: 'search', 'example.com/owner': 'ledger-team' };
    const idx = new PodIndex();
    idx.reset([...list.items.filter((p) => p !== list.items.find((q) => q.metadata.name.startsWith('report-'))), annotated].map((p) => parsePod(p)!));
    fakeProcess(600, 'report', '/app/report', `0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-${'14'.repeat(32)}.scope\n`);
    // The label wins over an annotation; an annotation alone gives the team.
    const plain = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: idx });
    expect(labelsToRecord(plain.labels(600, 'report')).team).toBe('search');
    expect(labelsToRecord(plain.labels(100, 'checkout')).team).toBe('payments');
    const withLabel = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: podIndex() });
    expect(labelsToRecord(withLabel.labels(600, 'report')).team).toBe('finance');
    // Another key is the operator's choice, in relabel_configs.
    const relabel = compileRelabelConfigs(parse(`
- source_labels: [__meta_kubernetes_pod_annotation_example_com_owner]
  regex: (.+)
  target_label: team
`));
    const owner = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: idx, relabel });
    expect(labelsToRecord(owner.labels(600, 'report')).team).toBe('ledger-team');
    // A pod with neither has no team label (node-exporter's pod).
    fakeProcess(601, 'node_exporter', '/bin/node_exporter', `0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-${'15'.repeat(32)}.scope\n`);
    expect(labelsToRecord(plain.labels(601, 'node_exporter')).team).toBeUndefined();
  });

  it('falls back to the pod (by UID in the cgroup path) when the container id is not known yet', () => {
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: podIndex() });
    const l = labelsToRecord(labeler.labels(400, 'envoy'));
    expect(l).toMatchObject({ service_name: 'checkout', namespace: 'shop-prod', pod: 'checkout-7d9f8b6c5d-x2k9p' });
    expect(l.container).toBeUndefined();
  });

  it('names a systemd service after its unit and a plain container process after its executable', () => {
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a' });
    expect(labelsToRecord(labeler.labels(200, 'nginx'))).toMatchObject({ service_name: 'nginx', systemd_unit: 'nginx.service' });
    expect(labelsToRecord(labeler.labels(300, 'python3'))).toMatchObject({ service_name: 'python3.11', container_id: 'ab'.repeat(32) });
  });

  it('names docker and podman containers outside Kubernetes from the engines’ state files', () => {
    const host = path.join(proc, 'host');
    const dockerId = 'ab'.repeat(32);
    const podmanId = 'cd'.repeat(32);
    mkdirSync(path.join(host, 'var/lib/docker/containers', dockerId), { recursive: true });
    writeFileSync(
      path.join(host, 'var/lib/docker/containers', dockerId, 'config.v2.json'),
      JSON.stringify({ ID: dockerId, Name: '/shop-web-1', Config: { Image: 'shop/web:1.4', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' } }, State: { Running: true, Pid: 300 } }),
    );
    mkdirSync(path.join(host, 'var/lib/containers/storage/overlay-containers'), { recursive: true });
    writeFileSync(
      path.join(host, 'var/lib/containers/storage/overlay-containers/containers.json'),
      JSON.stringify([{ id: podmanId, names: ['billing'], image: 'e1f2', layer: '9a8b', metadata: '{"image-name":"quay.io/acme/billing:2","name":"billing"}', created: '2026-11-24T20:00:00Z' }]),
    );
    fakeProcess(310, 'billing', '/srv/billing', `0::/machine.slice/libpod-${podmanId}.scope/container\n`);
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', containerNames: new ContainerNameResolver(host) });
    expect(labelsToRecord(labeler.labels(300, 'python3'))).toMatchObject({ service_name: 'web', container: 'shop-web-1', container_id: dockerId });
    expect(labelsToRecord(labeler.labels(310, 'billing'))).toMatchObject({ service_name: 'billing', container: 'billing', container_id: podmanId });
  });

  it('applies relabel rules: annotations via labelmap, drop by namespace, and hides __meta labels', () => {
    const relabel = compileRelabelConfigs(
      parse(`
- action: labelmap
  regex: __meta_kubernetes_pod_annotation_(owner)
- action: drop
  source_labels: [namespace]
  regex: monitoring|kube-system
- action: labeldrop
  regex: security_istio_io_tlsMode|app_kubernetes_io_.*
`),
    );
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: podIndex(), relabel });
    const l = labelsToRecord(labeler.labels(100, 'checkout'));
    expect(l.owner).toBe('alice@example.com');
    expect(l.security_istio_io_tlsMode).toBeUndefined();
    expect(Object.keys(l).filter((k) => k.startsWith('__'))).toEqual([]);
    fakeProcess(500, 'node_exporter', '/bin/node_exporter', `0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-${'15'.repeat(32)}.scope\n`);
    expect(labeler.labels(500, 'node_exporter')).toEqual([]);
  });

  it('keeps the labels of a process that exited, and re-reads a pid that was reused', () => {
    const labeler = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a' });
    fakeProcess(600, 'first', '/usr/bin/first', '0::/\n', '1000');
    expect(labelsToRecord(labeler.labels(600, 'first')).service_name).toBe('first');
    rmSync(path.join(proc, '600'), { recursive: true });
    expect(labelsToRecord(labeler.labels(600, 'first')).service_name).toBe('first');
    fakeProcess(600, 'second', '/usr/bin/second', '0::/\n', '2000');
    expect(labelsToRecord(labeler.labels(600, 'second')).service_name).toBe('second');
  });

  it('labels a real process from the real /proc', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    try {
      const l = labelsToRecord(new MetadataLabeler({ nodeName: 'node-x' }).labels(child.pid!, 'sleep'));
      expect(l).toMatchObject({ comm: 'sleep', pid: String(child.pid), node: 'node-x', executable: realpathSync('/usr/bin/sleep') });
      expect(l.service_name).toBe('sleep');
    } finally {
      child.kill();
    }
  });

  it('keeps a label set the server accepts even for a pod with very many or very long labels', () => {
    const idx = new PodIndex();
    const pod = JSON.parse(fixture('pods-list.json')).items[0];
    for (let i = 0; i < 100; i++) pod.metadata.labels[`example.com/feature-${String(i).padStart(3, '0')}`] = 'on';
    pod.metadata.labels[`${'x'.repeat(200)}.example.com/long`] = 'too long a name';
    idx.reset([parsePod(pod)!]);
    const labels = new MetadataLabeler({ procRoot: proc, nodeName: 'node-a', pods: idx }).labels(100, 'checkout');
    expect(() => validateLabels(labels)).not.toThrow();
    expect(labels.length).toBe(64);
    expect(labelsToRecord(labels)).toMatchObject({ service_name: 'checkout', namespace: 'shop-prod', pod: 'checkout-7d9f8b6c5d-x2k9p', container: 'checkout', pid: '100' });
  });

  it('sanitizes label names the way Prometheus service discovery does', () => {
    expect(sanitizeLabelName('app.kubernetes.io/name')).toBe('app_kubernetes_io_name');
    expect(sanitizeLabelName('9lives')).toBe('_9lives');
  });
});
