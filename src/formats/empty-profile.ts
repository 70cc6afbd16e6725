import { InputError } from '../model/index.js';

/**
 * A well-formed payload with nothing in it (every value zero, or no samples at all). Still a 400 when
 * it reaches a user on its own, but SDKs push such profiles routinely when idle, so the ingest paths
 * may choose to accept and drop it: they can tell it apart from broken input with `instanceof`.
 */
export class EmptyProfileError extends InputError {
  constructor(what: string) {
    super(`${what} has no samples with a non-zero value`, 400);
    this.name = 'EmptyProfileError';
  }
}
