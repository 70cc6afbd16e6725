import type { HandlerContext } from '@connectrpc/connect';
import type { FastifyReply } from 'fastify';

/**
 * How long one read (a flame graph, a table, a listing) may run before the server gives up on it, by
 * default (ServerLimits.readDeadlineMs). Grafana's data source proxy waits 30 s by default too: past
 * that nobody is reading the answer, and the store's time is better spent on the requests still waiting.
 */
export const READ_DEADLINE_MS = 30_000;

/** A read that ran out of time: HTTP 504, Connect DeadlineExceeded (errors.ts). */
export class DeadlineExceeded extends Error {
  constructor(readonly deadlineMs: number) {
    super(`the query did not finish within the server's ${deadlineMs / 1000} s deadline: ask for a shorter range or fewer series`);
    this.name = 'DeadlineExceeded';
  }
}

/** The client went away before its answer was ready: there is nobody to answer (nginx's 499). */
export class ClientClosedRequest extends Error {
  constructor() {
    super('the client closed the request before the answer was ready');
    this.name = 'ClientClosedRequest';
  }
}

/**
 * Runs a read with a signal that aborts at the deadline or when `parent` aborts (the client gone, a
 * shorter deadline the client sent). The store stops its work on that signal; and whatever the store
 * does, the caller is answered with the abort's reason as soon as it happens, not when the store is done.
 */
export async function withDeadline<T>(deadlineMs: number, run: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const { signal } = controller;
  const timer = setTimeout(() => controller.abort(new DeadlineExceeded(deadlineMs)), deadlineMs);
  const onParent = (): void => controller.abort(parent!.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  try {
    return await Promise.race([run(signal), aborted]);
  } catch (e) {
    // An engine interrupted mid-query rejects with its own words; the reason is what the client should hear.
    throw signal.aborted ? signal.reason : e;
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
  }
}

/** A fastify read: the deadline, and the client closing the connection before the answer was sent. */
export async function withHttpDeadline<T>(reply: FastifyReply, deadlineMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const gone = new AbortController();
  // The response closes after it is sent too; only a close before the end means the client left.
  const onClose = (): void => {
    if (!reply.raw.writableEnded) gone.abort(new ClientClosedRequest());
  };
  reply.raw.once('close', onClose);
  try {
    return await withDeadline(deadlineMs, run, gone.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** A Connect read: Connect's signal already aborts on the client's own timeout and on a disconnect. */
export function withConnectDeadline<T>(hc: HandlerContext, deadlineMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withDeadline(deadlineMs, run, hc.signal);
}
