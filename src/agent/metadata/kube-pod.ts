/**
 * The part of a Kubernetes Pod object the agent reads, parsed defensively from the API server's JSON,
 * and the workload (Deployment, StatefulSet, …) that owns it.
 */

export interface PodContainerStatus {
  readonly name: string;
  /** `containerd://<id>`, `docker://<id>`, `cri-o://<id>`; absent until the container starts. */
  readonly containerID?: string;
}

export interface KubePod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly controller?: boolean }>;
  };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: {
    readonly containerStatuses?: readonly PodContainerStatus[];
    readonly initContainerStatuses?: readonly PodContainerStatus[];
    readonly ephemeralContainerStatuses?: readonly PodContainerStatus[];
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function statuses(v: unknown): PodContainerStatus[] {
  if (!Array.isArray(v)) return [];
  const out: PodContainerStatus[] = [];
  for (const s of v) {
    if (isRecord(s) && typeof s.name === 'string') out.push({ name: s.name, containerID: typeof s.containerID === 'string' ? s.containerID : undefined });
  }
  return out;
}

/** A Pod from decoded JSON, or undefined when it lacks name/namespace/uid. */
export function parsePod(v: unknown): KubePod | undefined {
  if (!isRecord(v) || !isRecord(v.metadata)) return undefined;
  const md = v.metadata;
  if (typeof md.name !== 'string' || typeof md.namespace !== 'string' || typeof md.uid !== 'string') return undefined;
  const owners = Array.isArray(md.ownerReferences)
    ? md.ownerReferences.filter(isRecord).flatMap((o) => (typeof o.kind === 'string' && typeof o.name === 'string' ? [{ kind: o.kind, name: o.name, controller: o.controller === true }] : []))
    : [];
  const status = isRecord(v.status) ? v.status : {};
  return {
    metadata: {
      name: md.name,
      namespace: md.namespace,
      uid: md.uid,
      resourceVersion: typeof md.resourceVersion === 'string' ? md.resourceVersion : undefined,
      labels: stringMap(md.labels),
      annotations: stringMap(md.annotations),
      ownerReferences: owners,
    },
    spec: isRecord(v.spec) && typeof v.spec.nodeName === 'string' ? { nodeName: v.spec.nodeName } : {},
    status: {
      containerStatuses: statuses(status.containerStatuses),
      initContainerStatuses: statuses(status.initContainerStatuses),
      ephemeralContainerStatuses: statuses(status.ephemeralContainerStatuses),
    },
  };
}

export interface Workload {
  readonly kind: string;
  readonly name: string;
}

/**
 * The workload a pod belongs to, the way people name their services: a ReplicaSet's pod belongs to the
 * Deployment whose name is the ReplicaSet's minus the pod-template-hash; a Job named `<cronjob>-<8+
 * digits>` to its CronJob; StatefulSets and DaemonSets own their pods directly; a bare pod is its own.
 */
export function workloadOf(pod: KubePod): Workload {
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  if (!owner) return { kind: 'Pod', name: pod.metadata.name };
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.metadata.labels?.['pod-template-hash'];
    if (hash && owner.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
    const m = /^(.+)-[a-z0-9]{6,10}$/.exec(owner.name);
    return m ? { kind: 'Deployment', name: m[1]! } : { kind: 'ReplicaSet', name: owner.name };
  }
  if (owner.kind === 'Job') {
    const m = /^(.+)-\d{8,}$/.exec(owner.name);
    return m ? { kind: 'CronJob', name: m[1]! } : { kind: 'Job', name: owner.name };
  }
  return { kind: owner.kind, name: owner.name };
}

/** `containerd://abc…` → `abc…`. */
export function stripRuntimeScheme(containerID: string): string {
  const i = containerID.indexOf('://');
  return i < 0 ? containerID : containerID.slice(i + 3);
}
