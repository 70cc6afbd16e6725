/**
 * An error caused by what a user sent (payload, selector, flag), not by Kiln.
 * The server maps it to its HTTP status (4xx) and the CLI to a non-zero exit with the message;
 * anything else that escapes is a bug and becomes a 500.
 */
export class InputError extends Error {
  constructor(
    message: string,
    /** HTTP status to answer with: 400 bad input, 413 too large, 415 unknown format, 422 unsupported. */
    readonly status: 400 | 404 | 413 | 415 | 422 | 429 = 400,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}

/**
 * A dependency Kiln needs is down or too slow (the store, most often). Not the caller's fault and not
 * a bug: the server answers 503 with `Retry-After`, so agents and SDKs retry, and nothing is acknowledged.
 */
export class Unavailable extends Error {
  constructor(
    message: string,
    /** Seconds a client should wait before retrying. */
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
    this.name = 'Unavailable';
  }
}

export function isUnavailable(e: unknown): e is Unavailable {
  return e instanceof Unavailable;
}

/**
 * The request carries no credential, or one the server does not know: HTTP 401 (with
 * `WWW-Authenticate`), Connect Unauthenticated. `reason` is the label of the failure counter in
 * /metrics; the message never repeats the credential.
 */
export class Unauthenticated extends Error {
  constructor(
    message: string,
    readonly reason: 'missing' | 'malformed' | 'unknown_token',
  ) {
    super(message);
    this.name = 'Unauthenticated';
  }
}

/** A known principal asked for something its token does not grant: HTTP 403, Connect PermissionDenied. */
export class PermissionDenied extends Error {
  constructor(
    message: string,
    readonly reason: 'tenant' | 'role',
  ) {
    super(message);
    this.name = 'PermissionDenied';
  }
}
