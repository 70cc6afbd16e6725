import { readFileSync, statSync } from 'node:fs';
import { LruCache } from '../lru.js';
import type { ContainerRef } from './cgroup.js';

/** What a local container engine knows about a container outside Kubernetes. */
export interface ContainerNames {
  /** `web-1` for docker's `/web-1`. */
  readonly name: string;
  /** docker compose's service (`com.docker.compose.service`), '' when not a compose container. */
  readonly composeService: string;
}

/**
 * Container names from the engines' own state files on the host (root only), so a plain docker or
 * podman container gets a `container` label and a service name without talking to a daemon socket:
 * docker keeps `containers/<id>/config.v2.json`, podman (root) `overlay-containers/containers.json`.
 */
export class ContainerNameResolver {
  private readonly cache = new LruCache<string, ContainerNames | null>(4096);
  private podman: { mtimeMs: number; byId: Map<string, string> } | undefined;

  constructor(
    /** Prefix for the engines' directories (tests use a temp dir), '' for the host's. */
    private readonly hostRoot = '',
    private readonly dockerDir = '/var/lib/docker',
    private readonly podmanDir = '/var/lib/containers/storage',
  ) {}

  resolve(ref: ContainerRef): ContainerNames | undefined {
    if (ref.runtime !== 'docker' && ref.runtime !== 'podman') return undefined;
    const cached = this.cache.get(ref.id);
    if (cached !== undefined) return cached ?? undefined;
    const found = ref.runtime === 'docker' ? this.docker(ref.id) : this.podmanName(ref.id);
    // A container not found yet may be written a moment later; only cache what was found.
    if (found) this.cache.set(ref.id, found);
    return found;
  }

  private docker(id: string): ContainerNames | undefined {
    try {
      const cfg = JSON.parse(readFileSync(`${this.hostRoot}${this.dockerDir}/containers/${id}/config.v2.json`, 'utf8')) as {
        Name?: unknown;
        Config?: { Labels?: Record<string, unknown> | null };
      };
      const name = typeof cfg.Name === 'string' ? cfg.Name.replace(/^\//, '') : '';
      const service = cfg.Config?.Labels?.['com.docker.compose.service'];
      return name ? { name, composeService: typeof service === 'string' ? service : '' } : undefined;
    } catch {
      return undefined;
    }
  }

  private podmanName(id: string): ContainerNames | undefined {
    const file = `${this.hostRoot}${this.podmanDir}/overlay-containers/containers.json`;
    try {
      const mtimeMs = statSync(file).mtimeMs;
      if (!this.podman || this.podman.mtimeMs !== mtimeMs) {
        const list = JSON.parse(readFileSync(file, 'utf8')) as Array<{ id?: unknown; names?: unknown }>;
        const byId = new Map<string, string>();
        for (const c of Array.isArray(list) ? list : []) {
          if (typeof c.id === 'string' && Array.isArray(c.names) && typeof c.names[0] === 'string') byId.set(c.id, c.names[0]);
        }
        this.podman = { mtimeMs, byId };
      }
      const name = this.podman.byId.get(id);
      return name ? { name, composeService: '' } : undefined;
    } catch {
      return undefined;
    }
  }
}
