import { InputError } from '../../model/index.js';

/** Where a ClickHouse store lives, from `clickhouse://user:pass@host:8123/db` (`clickhouses://` for HTTPS). */
export interface ClickHouseLocation {
  /** The HTTP(S) endpoint the client talks to, without credentials or path. */
  readonly httpUrl: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  /** `host:port`, for messages (never the credentials). */
  readonly address: string;
}

/** Database names are spliced into DDL, so only plain identifiers are accepted. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DEFAULT_DATABASE = 'kiln';

export function parseClickHouseUrl(url: string): ClickHouseLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`store "${redact(url)}" is not a URL like clickhouse://user:password@host:8123/database`);
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme !== 'clickhouse:' && scheme !== 'clickhouses:') {
    throw new InputError(`store "${redact(url)}" is not a clickhouse:// URL`);
  }
  if (!u.hostname) throw new InputError(`store "${redact(url)}" names no host`);
  const secure = scheme === 'clickhouses:';
  const port = u.port || (secure ? '8443' : '8123');
  const database = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, '')) || DEFAULT_DATABASE;
  if (!IDENTIFIER.test(database)) {
    throw new InputError(`ClickHouse database "${database}" must be a plain identifier (letters, digits, _)`);
  }
  const host = u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname;
  return {
    httpUrl: `${secure ? 'https' : 'http'}://${host}:${port}`,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
    database,
    address: `${host}:${port}`,
  };
}

/** A cluster name from `--clickhouse-cluster`: spliced into DDL, so a plain identifier. */
export function checkClusterName(name: string): string {
  if (!IDENTIFIER.test(name)) throw new InputError(`ClickHouse cluster "${name}" must be a plain identifier (letters, digits, _)`);
  return name;
}

/** The URL with its password replaced, for messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}
