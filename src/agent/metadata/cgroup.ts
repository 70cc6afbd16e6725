/**
 * What a process's cgroup path says about it: the container it runs in (every common runtime puts the
 * 64-hex container id in a path segment) and the systemd unit that started it.
 */

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'unknown';

export interface ContainerRef {
  /** The full 64-hex id, as Kubernetes reports it after the `runtime://` scheme. */
  readonly id: string;
  readonly runtime: ContainerRuntime;
  /** Kubernetes pod UID when the path is under kubepods (dashes restored), else ''. */
  readonly podUid: string;
}

// `docker-<id>.scope` (systemd driver), `/docker/<id>` (cgroupfs), `cri-containerd-<id>.scope`,
// `crio-<id>.scope` / `/crio-<id>`, `libpod-<id>.scope`, `nerdctl-<id>.scope`, bare `<id>` (kubepods
// cgroupfs, containerd namespaces). conmon's own cgroups (`crio-conmon-…`, `libpod-conmon-…`) hold the
// runtime monitor, not the container, and deliberately do not match.
const SEGMENT = /^(?:(docker|cri-containerd|crio|libpod|nerdctl|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const PREFIX_RUNTIME: Readonly<Record<string, ContainerRuntime>> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
  nerdctl: 'containerd',
  containerd: 'containerd',
};
// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid with _>.slice` (systemd driver).
const POD_SEGMENT = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The container a cgroup path belongs to, innermost match first; undefined for host processes. */
export function containerFromCgroup(cgroupPath: string): ContainerRef | undefined {
  const segments = cgroupPath.split('/').filter(Boolean);
  for (let i = segments.length - 1; i >= 0; i--) {
    const m = SEGMENT.exec(segments[i]!);
    if (!m) continue;
    const outer = segments.slice(0, i);
    return { id: m[2]!, runtime: m[1] ? PREFIX_RUNTIME[m[1]]! : runtimeFromAncestors(outer), podUid: podUidOf(outer) };
  }
  return undefined;
}

function runtimeFromAncestors(outer: readonly string[]): ContainerRuntime {
  if (outer.includes('docker')) return 'docker';
  if (outer.includes('libpod_parent')) return 'podman';
  return 'unknown'; // kubepods with the cgroupfs driver does not say which CRI made it
}

function podUidOf(outer: readonly string[]): string {
  for (let i = outer.length - 1; i >= 0; i--) {
    const m = POD_SEGMENT.exec(outer[i]!);
    if (m) return m[1]!.replace(/_/g, '-');
  }
  return '';
}

/** The innermost systemd service the path is in (`nginx.service`), or ''. */
export function systemdUnitFromCgroup(cgroupPath: string): string {
  const segments = cgroupPath.split('/');
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i]!.endsWith('.service')) return segments[i]!;
  return '';
}

/**
 * The one path of a /proc/PID/cgroup file that describes the process: the unified (v2) `0::` line,
 * else the v1 systemd hierarchy, else the first non-root v1 path.
 */
export function cgroupPathFromFile(text: string): string {
  let systemd = '';
  let firstV1 = '';
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const id = line.slice(0, a);
    const controllers = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (id === '0' && controllers === '' && path !== '/') return path;
    if (controllers === 'name=systemd' && path !== '/') systemd = path;
    else if (!firstV1 && path !== '/' && path !== '') firstV1 = path;
  }
  return systemd || firstV1 || '/';
}

/** Every distinct non-root path of a /proc/PID/cgroup file (v1 hosts may show a container in only some). */
export function allCgroupPaths(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (path && path !== '/' && line.includes(':')) out.add(path);
  }
  return [...out];
}
