/**
 * Where `kiln server` listens when no flag says otherwise — a module of its own so the CLI's `--help`
 * can show them without loading the server.
 */

/** The port Pyroscope SDKs and agents send to by default. */
export const DEFAULT_PORT = 4040;
/**
 * Pyroscope listens on every interface by default (agents on other nodes push to it), so Kiln does too.
 * Pass host 127.0.0.1 to keep a laptop server private.
 */
export const DEFAULT_HOST = '0.0.0.0';
