/**
 * What one client connection may hold. A connection is cheap for its sender and costs the server a
 * socket, parser state and a file descriptor, so each phase has a clock and the total has a cap.
 */
export interface ConnectionLimits {
  /** From the first byte of a request (or of the connection) until its headers are in. */
  readonly headersTimeoutMs: number;
  /** From the first byte of a request until its whole body is in (a 64 MiB upload at 10 Mbit/s takes ~55 s). */
  readonly requestTimeoutMs: number;
  /** A keep-alive connection (HTTP/1.1) or session (h2c) with nothing in flight is closed after this. */
  readonly idleTimeoutMs: number;
  /**
   * Open connections at most. At the cap a new connection evicts the oldest one that has not yet sent a
   * complete request (the stalled ones an attacker holds), so they cannot lock everyone else out; only
   * when every connection is busy is the new one refused.
   */
  readonly maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  // Below the common 1024-descriptor soft limit's multiples and far above what agents need (one each).
  maxConnections: 4096,
};
