import path from 'node:path';
import { hostname } from 'node:os';
import { LABEL_LIMITS, SERVICE_NAME, isValidLabelName, labelsFrom, sanitizeLabelName, type Label, type Labels } from '../../model/index.js';
import { relabel, type RelabelRule } from '../../model/relabel.js';
import { LruCache } from '../lru.js';
import { readStat, vouchedStartTime } from '../symbolize/proc-maps.js';
import type { ProcessLabeler } from '../types.js';
import { ContainerNameResolver, type ContainerNames } from './container-names.js';
import type { PodContainerMeta, PodIndex } from './pod-index.js';
import { readProcessInfo, type ProcessInfo } from './process-info.js';

export interface MetadataLabelerOptions {
  /** The `node` label; defaults to the host name (set `--node-name` in Kubernetes: pod host names differ). */
  readonly nodeName?: string;
  readonly procRoot?: string;
  /** This node's pods, when running in Kubernetes. */
  readonly pods?: PodIndex;
  /** Compiled `relabel_configs`, applied last. */
  readonly relabel?: readonly RelabelRule[];
  readonly maxProcesses?: number;
  /** Names of docker/podman containers outside Kubernetes; default reads the host's engine state. */
  readonly containerNames?: ContainerNameResolver;
}

// Pod labels that only identify a rollout revision: as labels they would split one service's series.
const NOISY_POD_LABELS = new Set(['pod-template-hash', 'controller-revision-hash', 'pod-template-generation', 'statefulset.kubernetes.io/pod-name', 'apps.kubernetes.io/pod-index']);

/**
 * Labels a process the way an operator looks for it: `service_name` (the Kubernetes workload, else the
 * compose service or container name, the systemd unit, the executable), `comm`, `pid`, `executable`,
 * `node`, `cgroup`, `container_id`, `systemd_unit`, and in Kubernetes `namespace`, `pod`, `container`, the pod's own
 * labels, and `team` from the pod's `team` label or else its `team` annotation. Pod labels and annotations also come as `__meta_kubernetes_pod_label_*` /
 * `__meta_kubernetes_pod_annotation_*` for relabel rules; every `__`-prefixed label is removed after
 * relabeling, as in Prometheus.
 */
export class MetadataLabeler implements ProcessLabeler {
  private readonly nodeName: string;
  private readonly procRoot: string;
  private readonly containerNames: ContainerNameResolver;
  private readonly cache: LruCache<number, { info: ProcessInfo; podsVersion: number; labels: Labels }>;

  constructor(private readonly options: MetadataLabelerOptions = {}) {
    this.nodeName = options.nodeName || hostname();
    this.procRoot = options.procRoot ?? '/proc';
    this.cache = new LruCache(options.maxProcesses ?? 8192);
    this.containerNames = options.containerNames ?? new ContainerNameResolver();
  }

  labels(pid: number, comm: string): Labels {
    const podsVersion = this.options.pods?.version ?? 0;
    const cached = this.cache.get(pid);
    // The start time tells a reused pid apart (the agent's interval may know it without a read: proc-maps.ts).
    // Read, the stat serves below too: outside a oneStatReadEach pass a second readStat would read it again.
    const vouched = vouchedStartTime(pid);
    const firstStat = vouched === undefined ? readStat(pid, this.procRoot) : undefined;
    const start = vouched ?? firstStat?.startTime;
    // An exited process (no start time) keeps what was read while it lived.
    const same = cached !== undefined && (start === undefined || start === cached.info.startTime);
    // A process may rename itself after start (node's process.title, nginx and postgres workers): a
    // different name from the kernel means its /proc facts are read again.
    const renamed = same && comm !== '' && comm !== cached.info.comm;
    if (same && !renamed && cached.podsVersion === podsVersion) return cached.labels;
    const stat = start === undefined ? undefined : (firstStat ?? readStat(pid, this.procRoot));
    // Renamed and still running: read it again; renamed and gone: what was read, under its new name.
    const info = !same ? readProcessInfo(pid, this.procRoot, stat) : !renamed ? cached.info : stat !== undefined ? readProcessInfo(pid, this.procRoot, stat) : { ...cached.info, comm };
    const labels = this.compute(info, comm);
    this.cache.set(pid, { info, podsVersion, labels });
    return labels;
  }

  /** The label set before relabeling, `__meta_*` included: what relabel rules see. */
  discovered(info: ProcessInfo, comm: string): Map<string, string> {
    const l = new Map<string, string>();
    l.set('pid', String(info.pid));
    l.set('comm', info.comm || comm);
    l.set('node', this.nodeName);
    l.set('executable', info.executable);
    if (info.cgroup !== '/') l.set('cgroup', info.cgroup);
    l.set('systemd_unit', info.systemdUnit);
    const c = info.container;
    if (c) {
      l.set('container_id', c.id);
      l.set('__meta_container_runtime', c.runtime);
    }
    const pod = c && this.options.pods ? (this.options.pods.byContainerId(c.id) ?? (c.podUid ? this.options.pods.byPodUid(c.podUid) : undefined)) : undefined;
    if (pod) addPodLabels(l, pod);
    const engine = c && !pod ? this.containerNames.resolve(c) : undefined;
    if (engine) l.set('container', engine.name);
    l.set(SERVICE_NAME, serviceName(pod, engine, info, l.get('comm')!));
    return l;
  }

  private compute(info: ProcessInfo, comm: string): Labels {
    const discovered = this.discovered(info, comm);
    const relabeled = relabel(labelsFrom(discovered), this.options.relabel ?? []);
    if (relabeled === undefined) return [];
    const kept = relabeled.filter(isKeptLabel);
    return labelsFrom(withinLabelLimit(kept).map(boundedValue));
  }
}

// compute()'s callbacks, module-level rather than made per call (a closure made per call is optimized
// again after each full GC drops its code: stop 31).
function isKeptLabel(x: Label): boolean {
  return !x.name.startsWith('__') && isValidLabelName(x.name);
}

function boundedValue(x: Label): readonly [string, string] {
  return [x.name, x.value.slice(0, LABEL_LIMITS.maxValueLength)];
}

// What the agent itself derives: kept first when a pod has so many labels the set would pass the limit.
const CORE_LABELS = new Set([SERVICE_NAME, 'pid', 'comm', 'node', 'executable', 'cgroup', 'container_id', 'systemd_unit', 'namespace', 'pod', 'container']);

/** At most LABEL_LIMITS.maxLabels (the server rejects more): core labels first, then by name. */
function withinLabelLimit(labels: Labels): Labels {
  if (labels.length <= LABEL_LIMITS.maxLabels) return labels;
  const core = labels.filter((x) => CORE_LABELS.has(x.name));
  const rest = labels.filter((x) => !CORE_LABELS.has(x.name));
  return [...core, ...rest.slice(0, Math.max(0, LABEL_LIMITS.maxLabels - core.length))];
}

function addPodLabels(l: Map<string, string>, pod: PodContainerMeta): void {
  l.set('namespace', pod.namespace);
  l.set('pod', pod.pod);
  l.set('container', pod.container);
  l.set('__meta_kubernetes_pod_uid', pod.podUid);
  l.set('__meta_kubernetes_pod_controller_kind', pod.workload.kind);
  l.set('__meta_kubernetes_pod_controller_name', pod.workload.name);
  for (const [k, v] of Object.entries(pod.labels)) {
    const name = sanitizeLabelName(k);
    l.set(`__meta_kubernetes_pod_label_${name}`, v);
    // Pod labels (team, app, …) become labels of their own, but never override what the agent derived.
    if (!NOISY_POD_LABELS.has(k) && !l.has(name)) l.set(name, v);
  }
  for (const [k, v] of Object.entries(pod.annotations)) l.set(`__meta_kubernetes_pod_annotation_${sanitizeLabelName(k)}`, v);
  // Ownership (docs/TEAMS-AND-COST.md): a `team` annotation counts when the pod has no `team` label —
  // teams often annotate rather than label, since labels select and annotations only describe. Another
  // key (`owner`, `example.com/team`) is a relabel rule away (target_label: team).
  const team = pod.annotations[TEAM];
  if (!l.has(TEAM) && team) l.set(TEAM, team);
}

/** The label a selector names a team with (the server's teams: config uses the same name). */
const TEAM = 'team';

function serviceName(pod: PodContainerMeta | undefined, engine: ContainerNames | undefined, info: ProcessInfo, comm: string): string {
  if (pod) return pod.workload.name || pod.container || pod.pod;
  if (engine) return engine.composeService || engine.name;
  if (info.systemdUnit && !info.systemdUnit.startsWith('user@')) return info.systemdUnit.replace(/\.service$/, '');
  return path.basename(info.executable) || comm || 'unknown';
}

