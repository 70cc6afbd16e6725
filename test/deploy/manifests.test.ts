import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigYaml, resolveConfig, type AgentConfig, type RawSettings } from '../../src/agent/config.js';
import { missingCapabilities } from '../../src/agent/loader.js';
import { compileRelabelConfigs } from '../../src/model/relabel.js';
import { agentCommand } from '../../src/cli/agent.js';
import { DEFAULT_PORT } from '../../src/server/server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  KUBERNETES_DIR,
  documentedFlags,
  expandArgs,
  flagName,
  loadManifests,
  resolveEnv,
  type ConfigMap,
  type Container,
  type Service,
  type Workload,
} from './manifests.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const m = loadManifests();
const server = m.get<Workload>('StatefulSet', 'kiln-server');
const agent = m.get<Workload>('DaemonSet', 'kiln-agent');
const serverContainer = server.spec.template.spec.containers[0]!;
const agentContainer = agent.spec.template.spec.containers[0]!;

/** `kiln <verb> --help` as a user sees it, from the CLI itself. */
function help(verb: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', verb, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

/** The value of `--name=value` / `--name value` in args. */
function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i]!.startsWith(`${name}=`)) return args[i]!.slice(name.length + 1);
  }
  return undefined;
}

function portOf(c: Container, ref: number | string | undefined): number | undefined {
  return typeof ref === 'number' ? ref : c.ports?.find((p) => p.name === ref)?.containerPort;
}

/** The DaemonSet's args as the kubelet runs them on a node, parsed by the agent's own flag parser. */
function agentSettingsOn(nodeName: string): { args: string[]; flags: RawSettings; configFile: string | undefined } {
  const args = expandArgs(agentContainer.args ?? [], resolveEnv(agentContainer, { 'spec.nodeName': nodeName }));
  expect(args[0], 'the image entrypoint is `node bin/kiln.js`; the first arg picks the program').toBe('agent');
  const cmd = agentCommand();
  const { operands, unknown } = cmd.parseOptions(args.slice(1));
  expect({ operands, unknown }).toEqual({ operands: [], unknown: [] });
  const { config, ...flags } = cmd.opts<Record<string, string | undefined>>();
  return { args, flags, configFile: config };
}

function agentConfigText(configFile: string): string {
  const mount = agentContainer.volumeMounts?.find((v) => configFile.startsWith(`${v.mountPath}/`));
  expect(mount, `--config ${configFile} is under a volume mount`).toBeDefined();
  const volume = agent.spec.template.spec.volumes?.find((v) => v.name === mount!.name);
  expect(volume?.configMap, `volume ${mount!.name} is a ConfigMap`).toBeDefined();
  const cm = m.get<ConfigMap>('ConfigMap', volume!.configMap!.name);
  const key = configFile.slice(mount!.mountPath.length + 1);
  expect(Object.keys(cm.data), `ConfigMap ${cm.metadata.name} has the key ${key}`).toContain(key);
  return cm.data[key]!;
}

describe('deploy/kubernetes manifests', () => {
  it('lists every manifest in the kustomization and parses each one', () => {
    const files = readdirSync(KUBERNETES_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...m.kustomization.resources].sort()).toEqual(files.sort());
    const kinds = m.objects.map((o) => `${o.apiVersion} ${o.kind}`);
    for (const k of ['v1 Namespace', 'apps/v1 StatefulSet', 'apps/v1 DaemonSet', 'v1 Service', 'v1 ServiceAccount', 'v1 ConfigMap',
      'rbac.authorization.k8s.io/v1 ClusterRole', 'rbac.authorization.k8s.io/v1 ClusterRoleBinding']) expect(kinds).toContain(k);
    // Everything namespaced lands in the namespace the kustomization creates.
    expect(m.get('Namespace', m.kustomization.namespace!).metadata.name).toBe('kiln');
  });

  it('selects each workload\'s own pods, and the Services select the server', () => {
    for (const w of [server, agent]) {
      expect(w.spec.template.metadata.labels, `${w.kind} ${w.metadata.name}`).toMatchObject(w.spec.selector.matchLabels);
    }
    const services = m.ofKind<Service>('Service');
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      expect(server.spec.template.metadata.labels, `Service ${s.metadata.name}`).toMatchObject(s.spec.selector);
      expect(agent.spec.template.metadata.labels, `Service ${s.metadata.name} must not select agents`).not.toMatchObject(s.spec.selector);
    }
    const governing = m.get<Service>('Service', server.spec.serviceName!);
    expect(governing.spec.clusterIP).toBe('None');
  });
});

describe('server StatefulSet', () => {
  let live: TestServer;
  beforeAll(async () => {
    live = await startTestServer();
  });
  afterAll(async () => {
    await live?.close();
  });

  it('passes only flags `kiln server --help` documents', () => {
    const documented = documentedFlags(help('server'));
    const args = serverContainer.args ?? [];
    expect(args[0]).toBe('server');
    const flags = args.slice(1).map(flagName);
    expect(flags).not.toContain(undefined);
    for (const f of flags) expect(documented, `kiln server --help documents ${f}`).toContain(f);
  });

  it('listens on the port its container, Service and probes name', () => {
    const port = Number(argValue(serverContainer.args ?? [], '--port') ?? DEFAULT_PORT);
    expect(port).toBe(4040);
    expect(serverContainer.ports?.map((p) => p.containerPort)).toContain(port);
    const kiln = m.get<Service>('Service', 'kiln');
    expect(kiln.spec.ports.map((p) => [p.port, portOf(serverContainer, p.targetPort ?? p.port)])).toEqual([[4040, port]]);
    expect(portOf(serverContainer, serverContainer.readinessProbe?.httpGet?.port)).toBe(port);
    expect(portOf(serverContainer, serverContainer.livenessProbe?.httpGet?.port)).toBe(port);
    // The address must reach beyond the pod's loopback, or neither probes nor agents get in.
    expect(argValue(serverContainer.args ?? [], '--host') ?? '0.0.0.0').toBe('0.0.0.0');
  });

  it('probes paths a running server answers with 200 (and the probe check can tell a wrong path)', async () => {
    const ready = serverContainer.readinessProbe?.httpGet?.path;
    const live_ = serverContainer.livenessProbe?.httpGet?.path;
    expect([ready, live_]).toEqual(['/ready', '/healthz']);
    for (const path of [ready!, live_!]) expect((await fetch(`${live.url}${path}`)).status, path).toBe(200);
    expect((await fetch(`${live.url}/readyz-not-a-route`, { headers: { accept: 'application/json' } })).status).not.toBe(200);
  });

  it('keeps --data-dir on the PersistentVolumeClaim', () => {
    const dataDir = argValue(serverContainer.args ?? [], '--data-dir');
    const mount = serverContainer.volumeMounts?.find((v) => v.mountPath === dataDir);
    expect(mount, `a volume is mounted at --data-dir ${dataDir}`).toBeDefined();
    expect(server.spec.volumeClaimTemplates?.map((t) => t.metadata.name)).toContain(mount!.name);
  });
});

describe('agent DaemonSet', () => {
  const node = 'worker-7';

  it('passes only flags `kiln agent --help` documents', () => {
    const documented = documentedFlags(help('agent'));
    expect(documented.size).toBeGreaterThan(5);
    const flags = (agentContainer.args ?? []).slice(1).map(flagName);
    expect(flags).not.toContain(undefined);
    for (const f of flags) expect(documented, `kiln agent --help documents ${f}`).toContain(f);
    for (const f of ['--server', '--node-name', '--config']) expect(flags).toContain(f);
  });

  it('resolves to a valid agent config: the node from the downward API, the server Service, the ConfigMap', () => {
    const { flags, configFile } = agentSettingsOn(node);
    expect(agentContainer.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    const config: AgentConfig = resolveConfig(parseConfigYaml(agentConfigText(configFile!), configFile), flags);
    expect(config.nodeName).toBe(node);
    // --server names the server's Service by its in-namespace DNS name and its port.
    const url = new URL(config.server);
    const svc = m.get<Service>('Service', url.hostname);
    expect(svc.spec.ports.map((p) => p.port)).toContain(Number(url.port));
    expect(svc.metadata.namespace).toBe(agent.metadata.namespace);
    // The relabel rules compile with the agent's own relabeler (a bad rule stops the agent at start).
    expect(compileRelabelConfigs(config.relabelConfigs).length).toBeGreaterThan(0);
    // The metrics port the pod declares is the one the agent serves.
    expect(agentContainer.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(config.metricsPort);
    expect(agent.spec.template.metadata.annotations?.['prometheus.io/port']).toBe(String(config.metricsPort));
  });

  it('sees every process of its node, on every node', () => {
    const pod = agent.spec.template.spec;
    expect(pod.hostPID).toBe(true);
    // A toleration with operator Exists and no key tolerates every taint.
    expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
    // Pod Security admission refuses hostPID below the privileged level.
    const ns = m.get('Namespace', agent.metadata.namespace!);
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it('has the capabilities the loader checks for, and the ones for reading other processes', () => {
    const sc = agentContainer.securityContext;
    const added = sc?.privileged ? ['SYS_ADMIN', 'BPF', 'PERFMON', 'SYS_PTRACE', 'SYSLOG'] : (sc?.capabilities?.add ?? []);
    // The same bit numbers the loader reads from /proc/self/status (include/uapi/linux/capability.h).
    const bits: Record<string, number> = { DAC_READ_SEARCH: 2, SYS_PTRACE: 19, SYS_ADMIN: 21, SYS_RESOURCE: 24, SYSLOG: 34, PERFMON: 38, BPF: 39 };
    for (const c of added) expect(Object.keys(bits), `capability ${c}`).toContain(c);
    const capEff = added.reduce((mask, c) => mask | (1n << BigInt(bits[c]!)), 0n);
    expect(missingCapabilities(`CapEff:\t${capEff.toString(16).padStart(16, '0')}\n`)).toEqual([]);
    // /proc/PID/maps and /proc/PID/root of other users' processes; kernel addresses in /proc/kallsyms.
    expect(added).toEqual(expect.arrayContaining(['SYS_PTRACE', 'SYSLOG']));
    // The check itself is able to fail: without BPF the loader would refuse to start.
    expect(missingCapabilities(`CapEff:\t${(capEff & ~(1n << 39n)).toString(16)}\n`)).toEqual(['CAP_BPF']);
  });
});
