import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Unavailable } from '../../model/index.js';
import type { ClickHouseLocation } from './url.js';

/**
 * The one road to ClickHouse: every statement gets a query id, a deadline and error mapping here.
 *
 * - Reads that carry an AbortSignal are cancelled inside ClickHouse, not only in this process: the
 *   client drops the HTTP request, and a `KILL QUERY` by query id follows, because servers before
 *   `cancel_http_readonly_queries_on_client_close` (18.x) keep running a query whose client went away.
 * - Connection failures, timeouts and ClickHouse's own "overloaded / replica gone" errors become
 *   `Unavailable` naming the store (the server answers 503 + Retry-After); anything else is a bug
 *   and keeps its message, prefixed with the store.
 */

export interface ConnectionOptions {
  /** Per-request deadline (also sent as max_execution_time for reads). Default 60 s. */
  readonly requestTimeoutMs?: number;
  /** HTTP sockets kept to the server. Default 16. */
  readonly maxConnections?: number;
}

/** ClickHouse error codes that mean "not now", not "never": retrying later can succeed. */
const UNAVAILABLE_CODES = new Set([
  '159', // TIMEOUT_EXCEEDED
  '160', // TOO_SLOW
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '225', // NO_ZOOKEEPER
  '242', // TABLE_IS_READ_ONLY (a replica lost its ZooKeeper session)
  '252', // TOO_MANY_PARTS (inserts faster than merges)
  '279', // ALL_CONNECTION_TRIES_FAILED
  '285', // TOO_FEW_LIVE_REPLICAS
  '319', // UNKNOWN_STATUS_OF_INSERT
  '999', // KEEPER_EXCEPTION
]);

const NETWORK_CODE = /^E[A-Z_]+$/;

/** Large IN lists of content ids are query text; the default 256 KiB would cap them at ~12 000 ids. */
const MAX_QUERY_SIZE = 64 * 1024 * 1024;

export class Connection {
  readonly client: ClickHouseClient;
  private readonly timeoutMs: number;

  constructor(
    readonly location: ClickHouseLocation,
    opts: ConnectionOptions = {},
  ) {
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.client = createClient({
      url: location.httpUrl,
      username: location.username,
      password: location.password,
      request_timeout: this.timeoutMs,
      max_open_connections: opts.maxConnections ?? 16,
      application: 'kiln',
      // Failures reach the caller as typed errors; the client's own console logging would say it twice.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** `ClickHouse at host:port`, the start of every message about this store. */
  get name(): string {
    return `ClickHouse at ${this.location.address}`;
  }

  /** Runs a SELECT and returns its rows (JSONEachRow: 64-bit integers arrive as strings). */
  async query<T>(sql: string, signal?: AbortSignal, settings: ClickHouseSettings = {}): Promise<T[]> {
    signal?.throwIfAborted();
    const queryId = `kiln-${randomUUID()}`;
    const onAbort = () => void this.kill(queryId);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const rs = await this.client.query({
        query: sql,
        format: 'JSONEachRow',
        query_id: queryId,
        abort_signal: signal,
        clickhouse_settings: {
          max_query_size: String(MAX_QUERY_SIZE),
          max_execution_time: Math.ceil(this.timeoutMs / 1000),
          ...settings,
        },
      });
      return await rs.json<T>();
    } catch (e) {
      throw this.mapError(e, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** DDL and other statements without a result. */
  async command(sql: string, settings: ClickHouseSettings = {}): Promise<void> {
    try {
      await this.client.command({ query: sql, query_id: `kiln-${randomUUID()}`, clickhouse_settings: { max_query_size: String(MAX_QUERY_SIZE), ...settings } });
    } catch (e) {
      throw this.mapError(e);
    }
  }

  /**
   * Inserts RowBinary rows; resolves once ClickHouse has written them (the HTTP response of an
   * INSERT comes after the parts are on disk, and with `insert_distributed_sync` after the shards have them).
   */
  async insert(table: string, columns: readonly string[], body: Buffer, settings: ClickHouseSettings = {}): Promise<void> {
    if (body.length === 0) return;
    try {
      const res = await this.client.exec({
        query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT RowBinary`,
        values: Readable.from([body]),
        query_id: `kiln-${randomUUID()}`,
        clickhouse_settings: settings,
      });
      // The body of an INSERT answer is empty; reading it to the end releases the socket.
      for await (const _ of res.stream) void _;
    } catch (e) {
      throw this.mapError(e);
    }
  }

  /** Best effort: the query may have finished already, and a server that is down has nothing to kill. */
  private async kill(queryId: string): Promise<void> {
    try {
      await this.client.command({ query: `KILL QUERY WHERE query_id = '${queryId}' ASYNC`, query_id: `kiln-kill-${randomUUID()}` });
    } catch {
      // nothing to do
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Typed errors: the abort reason, Unavailable, or an Error naming the store. */
  mapError(e: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    if (e instanceof Unavailable) return e;
    if (e instanceof ClickHouseError) {
      const first = firstLine(e.message);
      if (UNAVAILABLE_CODES.has(e.code)) return new Unavailable(`${this.name} is unavailable: ${first}`);
      return new Error(`${this.name}: ${first}`);
    }
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && NETWORK_CODE.test(code)) return new Unavailable(`${this.name} is unavailable: ${code}`);
      if (/timeout/i.test(e.message)) return new Unavailable(`${this.name} is unavailable: no answer within ${this.timeoutMs} ms`);
      if (/socket hang up/i.test(e.message)) return new Unavailable(`${this.name} is unavailable: connection closed`);
      return new Error(`${this.name}: ${e.message}`);
    }
    return e;
  }
}

function firstLine(message: string): string {
  // Servers append ", e.what() = DB::Exception" (18.x) or a stack trace (debug builds).
  return message.split('\n')[0]!.replace(/, e\.what\(\) = .*$/, '').trim();
}

/** `major.minor` of `version()`, to branch on features (TTL, LowCardinality, codecs). */
export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;
}

export function parseVersion(text: string): ServerVersion {
  const [major, minor] = text.split('.').map((p) => Number.parseInt(p, 10));
  return { major: major || 0, minor: minor || 0, text };
}

export function atLeast(v: ServerVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}
