import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import type { ServerLimits } from '../../src/server/context.js';
import type { ServerConfig } from '../../src/config/server-config.js';
import type { TlsFiles } from '../../src/server/tls.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

export interface TestServerOptions {
  /** Reuse a data directory (restart tests); it is then left in place on close. Default: a fresh temp dir. */
  readonly dataDir?: string;
  readonly limits?: Partial<ServerLimits>;
  /** Serve a built UI from here. */
  readonly uiDir?: string;
  /** A store URL (`clickhouse://…`) instead of a DuckDB data dir: N test servers may share one. */
  readonly storeUrl?: string;
  /** The live config (`auth:` and the rest), read per request as `kiln server --config` does; change it to "reload". */
  readonly config?: () => ServerConfig;
  /** Serve HTTPS with these PEM files. */
  readonly tls?: TlsFiles;
}

export interface TestServer {
  /** e.g. http://127.0.0.1:39811 */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  /** The DuckDB data dir ('' on a store URL). */
  readonly dataDir: string;
  readonly server: RunningServer;
  /** Stops the server, closes the store, and removes the data dir if this helper created it. */
  close(): Promise<void>;
}

/**
 * A real Kiln server for tests: loopback, a free port, the DuckDB store in a temp data dir. The same
 * code path as `kiln server`, so tests see what users see.
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined && opts.storeUrl === undefined;
  const dataDir = opts.dataDir ?? (opts.storeUrl === undefined ? await mkdtemp(path.join(os.tmpdir(), 'kiln-test-')) : '');
  // Two threads keep DuckDB polite on the shared 2-core machine.
  const store = await openStore(opts.storeUrl ?? dataDir, { threads: 2 });
  let server: RunningServer;
  try {
    server = await startServer({ store, host: '127.0.0.1', port: 0, limits: opts.limits, uiDir: opts.uiDir, config: opts.config, tls: opts.tls });
  } catch (e) {
    await store.close();
    throw e;
  }
  let closed = false;
  return {
    url: server.url,
    port: server.port,
    store,
    dataDir,
    server,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await store.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
