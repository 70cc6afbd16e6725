import { stripRuntimeScheme, workloadOf, type KubePod, type Workload } from './kube-pod.js';

/** Kubernetes metadata of one container, what the labeler attaches to its processes. */
export interface PodContainerMeta {
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string;
  /** '' when only the pod is known (container not started yet, or looked up by pod UID). */
  readonly container: string;
  readonly workload: Workload;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * This node's pods, indexed by container id and by pod UID. A deleted pod is kept for `graceMs` so the
 * samples of its last seconds, read after the API server reported the deletion, are still labeled.
 */
export class PodIndex {
  private readonly pods = new Map<string, { pod: KubePod; deletedAt?: number }>();
  private byContainer = new Map<string, PodContainerMeta>();
  private dirty = false;
  /** Bumped on every change, so label caches know to recompute. */
  version = 0;

  constructor(private readonly graceMs = 60_000) {}

  get size(): number {
    return this.pods.size;
  }

  /** Replaces everything (after a list). */
  reset(pods: readonly KubePod[]): void {
    this.pods.clear();
    for (const p of pods) this.pods.set(p.metadata.uid, { pod: p });
    this.changed();
  }

  upsert(pod: KubePod): void {
    this.pods.set(pod.metadata.uid, { pod });
    this.changed();
  }

  remove(pod: KubePod, now = Date.now()): void {
    const e = this.pods.get(pod.metadata.uid);
    this.pods.set(pod.metadata.uid, { pod: e?.pod ?? pod, deletedAt: now });
    this.changed();
  }

  byContainerId(id: string, now = Date.now()): PodContainerMeta | undefined {
    this.rebuild(now);
    return this.byContainer.get(id);
  }

  byPodUid(uid: string, now = Date.now()): PodContainerMeta | undefined {
    this.rebuild(now);
    const e = this.pods.get(uid);
    return e ? metaOf(e.pod, '') : undefined;
  }

  private changed(): void {
    this.dirty = true;
    this.version++;
  }

  /** Lazily: watch events come in bursts, lookups once per process per interval. */
  private rebuild(now: number): void {
    for (const [uid, e] of this.pods) {
      if (e.deletedAt !== undefined && now - e.deletedAt > this.graceMs) {
        this.pods.delete(uid);
        this.changed();
      }
    }
    if (!this.dirty) return;
    const next = new Map<string, PodContainerMeta>();
    for (const { pod } of this.pods.values()) {
      const s = pod.status;
      for (const c of [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? []), ...(s?.ephemeralContainerStatuses ?? [])]) {
        if (c.containerID) next.set(stripRuntimeScheme(c.containerID), metaOf(pod, c.name));
      }
    }
    this.byContainer = next;
    this.dirty = false;
  }
}

function metaOf(pod: KubePod, container: string): PodContainerMeta {
  const md = pod.metadata;
  return {
    namespace: md.namespace,
    pod: md.name,
    podUid: md.uid,
    container,
    workload: workloadOf(pod),
    labels: md.labels ?? {},
    annotations: md.annotations ?? {},
  };
}
