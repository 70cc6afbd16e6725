import http from 'node:http';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from './kube-config.js';
import { parsePod, type KubePod } from './kube-pod.js';
import { PodIndex } from './pod-index.js';

export interface PodWatcherOptions {
  readonly config: KubeConfig;
  /** Only pods scheduled on this node are listed and watched (fieldSelector spec.nodeName). */
  readonly nodeName: string;
  readonly index?: PodIndex;
  /** First retry delay after an error; doubles up to 30 s. */
  readonly retryMs?: number;
  /** Server-side watch timeout: the watch is re-opened from the last resourceVersion after it. */
  readonly watchTimeoutSeconds?: number;
  readonly onError?: (e: Error) => void;
}

const MAX_LIST_BYTES = 256 * 1024 * 1024;
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/** The watch's resourceVersion is too old (HTTP 410 or an ERROR event with code 410): relist. */
class GoneError extends Error {}

/**
 * Keeps a PodIndex of this node's pods current, the way client-go's informers do: list (paged), then
 * watch from the list's resourceVersion, re-watch from the last seen version when the server closes the
 * stream, relist when told the version is gone, back off exponentially on errors.
 */
export class PodWatcher {
  readonly index: PodIndex;
  readonly counters = { lists: 0, watches: 0, events: 0, errors: 0 };
  private readonly abort = new AbortController();
  private readonly synced: Promise<void>;
  private markSynced!: () => void;
  private running: Promise<void> | undefined;

  constructor(private readonly options: PodWatcherOptions) {
    if (!options.nodeName) throw new Error('watching pods needs the node name (--node-name, or NODE_NAME from the downward API)');
    this.index = options.index ?? new PodIndex();
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** Starts listing and watching; the promise resolves once the first list is in the index. */
  start(): Promise<void> {
    this.running ??= this.run();
    return this.synced;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const base = this.options.retryMs ?? 1000;
    let delay = base;
    while (!this.abort.signal.aborted) {
      try {
        let rv = await this.list();
        this.markSynced();
        delay = base;
        for (;;) {
          const began = Date.now();
          rv = await this.watch(rv);
          // A server that ends watches at once would otherwise be asked again in a tight loop.
          if (Date.now() - began < 1000) await sleep(base, undefined, { signal: this.abort.signal });
        }
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (e instanceof GoneError) continue; // expected now and then: relist at once
        this.counters.errors++;
        this.options.onError?.(e instanceof Error ? e : new Error(String(e)));
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private url(params: Record<string, string>): URL {
    const u = new URL('/api/v1/pods', this.options.config.server);
    u.searchParams.set('fieldSelector', `spec.nodeName=${this.options.nodeName}`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u;
  }

  private async list(): Promise<string> {
    this.counters.lists++;
    const pods: KubePod[] = [];
    let cont = '';
    let rv = '';
    do {
      const res = await this.get(this.url(cont ? { limit: '500', continue: cont } : { limit: '500' }), 60_000);
      const body = JSON.parse(await readBody(res, MAX_LIST_BYTES)) as { metadata?: { resourceVersion?: string; continue?: string }; items?: unknown[] };
      for (const item of body.items ?? []) {
        const pod = parsePod(item);
        if (pod) pods.push(pod);
      }
      rv = body.metadata?.resourceVersion ?? '';
      cont = body.metadata?.continue ?? '';
    } while (cont);
    this.index.reset(pods);
    return rv;
  }

  /** Follows one watch stream; returns the last resourceVersion seen when the server ends it. */
  private async watch(resourceVersion: string): Promise<string> {
    this.counters.watches++;
    const params: Record<string, string> = { watch: '1', allowWatchBookmarks: 'true', timeoutSeconds: String(this.options.watchTimeoutSeconds ?? 300) };
    if (resourceVersion) params.resourceVersion = resourceVersion;
    // Idle guard past the server's own timeout: bookmarks and events keep a healthy stream busy.
    const res = await this.get(this.url(params), (this.options.watchTimeoutSeconds ?? 300) * 1000 + 60_000);
    let rv = resourceVersion;
    let buffered = '';
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) {
      buffered += chunk;
      if (buffered.length > MAX_EVENT_BYTES) throw new Error(`watch event larger than ${MAX_EVENT_BYTES} bytes`);
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) rv = this.apply(JSON.parse(line) as WatchEvent) ?? rv;
      }
    }
    return rv;
  }

  private apply(ev: WatchEvent): string | undefined {
    this.counters.events++;
    if (ev.type === 'ERROR') {
      const code = (ev.object as { code?: number } | undefined)?.code;
      if (code === 410) throw new GoneError('resourceVersion too old');
      throw new Error(`watch error: ${JSON.stringify(ev.object).slice(0, 300)}`);
    }
    const rv = (ev.object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') return rv;
    const pod = parsePod(ev.object);
    if (!pod) return rv;
    if (ev.type === 'DELETED') this.index.remove(pod);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.index.upsert(pod);
    return rv;
  }

  private get(url: URL, idleMs: number): Promise<http.IncomingMessage> {
    const { config } = this.options;
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = config.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const mod = url.protocol === 'https:' ? (requireBuiltin('node:https') as typeof import('node:https')) : http;
    return new Promise((resolve, reject) => {
      const req = mod.get(url, { headers, ca: config.ca, signal: this.abort.signal }, (res) => {
        if (res.statusCode === 200) return resolve(res);
        void readBody(res, 64 * 1024)
          .catch(() => '')
          .then((body) => {
            const msg = `GET ${url.pathname}${url.search} → HTTP ${res.statusCode}: ${body.slice(0, 300)}`;
            reject(res.statusCode === 410 ? new GoneError(msg) : new Error(msg));
          });
      });
      req.setTimeout(idleMs, () => req.destroy(new Error(`API server silent for ${idleMs} ms`)));
      req.on('error', reject);
    });
  }
}

// node:https (and the TLS stack behind it) is loaded only when the API server is reached over https: an agent
// outside Kubernetes still imports this module, and loading the built-in costs it resident memory.
const requireBuiltin = createRequire(import.meta.url);

interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: unknown;
}

async function readBody(res: http.IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new Error(`API server response larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
