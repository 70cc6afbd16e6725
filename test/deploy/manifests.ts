import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/**
 * The Kubernetes manifests under deploy/kubernetes as `kubectl apply -k` would send them: the files the
 * kustomization lists, parsed with the `yaml` package, with the kustomization's namespace set on every
 * namespaced object. Only the fields the tests read are typed.
 */

export const KUBERNETES_DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
}

export interface HttpProbe {
  readonly httpGet?: { readonly path: string; readonly port: number | string };
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
  readonly readinessProbe?: HttpProbe;
  readonly livenessProbe?: HttpProbe;
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>;
  readonly securityContext?: {
    readonly privileged?: boolean;
    readonly runAsUser?: number;
    readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
  };
}

export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly hostPID?: boolean;
  readonly tolerations?: ReadonlyArray<{ readonly key?: string; readonly operator?: string; readonly effect?: string }>;
  readonly containers: readonly Container[];
  readonly volumes?: ReadonlyArray<{ readonly name: string; readonly configMap?: { readonly name: string }; readonly emptyDir?: object }>;
}

export interface Workload extends KubeObject {
  readonly spec: {
    readonly serviceName?: string;
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly template: {
      readonly metadata: { readonly labels: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
      readonly spec: PodSpec;
    };
    readonly volumeClaimTemplates?: ReadonlyArray<{ readonly metadata: { readonly name: string } }>;
  };
}

export interface Service extends KubeObject {
  readonly spec: {
    readonly clusterIP?: string;
    readonly selector: Readonly<Record<string, string>>;
    readonly ports: ReadonlyArray<{ readonly name?: string; readonly port: number; readonly targetPort?: number | string }>;
  };
}

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

export interface ClusterRole extends KubeObject {
  readonly rules: readonly PolicyRule[];
}

export interface RoleBinding extends KubeObject {
  readonly roleRef: { readonly apiGroup: string; readonly kind: string; readonly name: string };
  readonly subjects: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly namespace?: string }>;
}

export interface ConfigMap extends KubeObject {
  readonly data: Readonly<Record<string, string>>;
}

export interface Kustomization {
  readonly namespace?: string;
  readonly resources: readonly string[];
}

/** Kinds that live outside namespaces (kustomize leaves their metadata.namespace alone). */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass']);

/** Parses every YAML document of a file; any syntax error or warning fails with the file named. */
export function parseDocuments(file: string, text: string): unknown[] {
  return YAML.parseAllDocuments(text).map((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file} document ${i + 1}: ${problems.map((p) => p.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

export function readKustomization(dir = KUBERNETES_DIR): Kustomization {
  const [doc] = parseDocuments('kustomization.yaml', readFileSync(`${dir}/kustomization.yaml`, 'utf8'));
  return doc as Kustomization;
}

export interface Manifests {
  readonly kustomization: Kustomization;
  readonly objects: readonly KubeObject[];
  /** The one object of this kind and name; throws naming what is missing. */
  get<T extends KubeObject>(kind: string, name: string): T;
  ofKind<T extends KubeObject>(kind: string): T[];
}

export function loadManifests(dir = KUBERNETES_DIR): Manifests {
  const kustomization = readKustomization(dir);
  const objects: KubeObject[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseDocuments(file, readFileSync(`${dir}/${file}`, 'utf8'))) {
      if (doc === null || doc === undefined) continue; // an empty document (trailing ---)
      const o = doc as KubeObject;
      if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
        throw new Error(`${file}: every document needs apiVersion, kind and metadata.name`);
      }
      const namespaced = !CLUSTER_SCOPED.has(o.kind) && kustomization.namespace;
      objects.push(namespaced ? ({ ...o, metadata: { ...o.metadata, namespace: kustomization.namespace } } as KubeObject) : o);
    }
  }
  const ofKind = <T extends KubeObject>(kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
  return {
    kustomization,
    objects,
    ofKind,
    get<T extends KubeObject>(kind: string, name: string): T {
      const found = ofKind<T>(kind).filter((o) => o.metadata.name === name);
      if (found.length !== 1) throw new Error(`expected one ${kind} named ${name}, found ${found.length}`);
      return found[0]!;
    },
  };
}

/** The pod's environment as the kubelet resolves it: fieldRef values from `fields` (e.g. spec.nodeName). */
export function resolveEnv(container: Container, fields: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (path !== undefined) {
      const v = fields[path];
      if (v === undefined) throw new Error(`env ${e.name}: the test has no value for fieldRef ${path}`);
      env[e.name] = v;
    }
  }
  return env;
}

/** Kubernetes `$(VAR)` expansion in args; a reference to an undefined variable stays as written, as in Kubernetes. */
export function expandArgs(args: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole));
}

/** The long flags (`--node-name`) listed in the Options section of a commander --help text. */
export function documentedFlags(help: string): Set<string> {
  const options = help.slice(help.indexOf('Options:'));
  return new Set([...options.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

/** `--flag=value` or `--flag` → `--flag`; other args (the verb) → undefined. */
export function flagName(arg: string): string | undefined {
  return arg.startsWith('--') ? arg.split('=')[0] : undefined;
}
