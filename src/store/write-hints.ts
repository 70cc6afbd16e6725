/**
 * Whether more writes are on their way to a store: a server knows its ingest decodes in flight, the
 * store does not. The write path uses it to gather a group commit: a DuckDB commit costs ≈ 5 ms of
 * CPU whatever it holds (measured: one commit per agent push 7.3–8.9 ms of CPU per push, eight
 * writers grouping 2.1–4.1 ms, load ≈ 27), and with decoding on worker threads pushes reached the
 * store one at a time, each committed alone.
 */
const hints = new WeakMap<object, () => boolean | number>();

/**
 * `store` will get more writes while `moreComing()` says so: true, or how many (the server's decodes in
 * flight, each of which ends as a write unless it fails).
 */
export function announceWrites(store: object, moreComing: () => boolean | number): void {
  hints.set(store, moreComing);
}

/** undefined: nothing announces writes for `store` (decodes run on the event loop, or no server). */
export function moreWritesComing(store: object): boolean | number | undefined {
  return hints.get(store)?.();
}
