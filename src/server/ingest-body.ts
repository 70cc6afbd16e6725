import type { FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';

/**
 * A request body as it arrived: its chunks, not yet joined. An agent-sized gzipped pprof (≈ 93 KB) comes in
 * two chunks, each already a copy of node's socket buffer in a buffer of its own; joining them on the event
 * loop (what fastify's `parseAs: 'buffer'` does) cost a third buffer per request, its fresh pages faulted in
 * and copied into. `POST /ingest` hands the chunks to the decode thread as they are (decode-tasks.ts joins
 * them there, into a buffer it keeps) and joins them here only for the paths that read the body on the event
 * loop (multipart, a gzip Content-Encoding, JFR).
 */
export class ReceivedBody {
  constructor(
    readonly chunks: readonly Uint8Array[],
    readonly length: number,
  ) {}
}

/** A body that may still be in chunks (FormatTask.body), in one buffer: its one chunk, or the chunks joined into a new buffer. */
export function wholeBody(body: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (body instanceof Uint8Array) return body;
  return body.length === 1 ? body[0]! : joinChunks(body, new Uint8Array(bodyLength(body)));
}

export function bodyLength(body: Uint8Array | readonly Uint8Array[]): number {
  if (body instanceof Uint8Array) return body.length;
  let n = 0;
  for (const c of body) n += c.length;
  return n;
}

/** `chunks` end to end into `into` (at least their total length); the joined part of `into`. */
export function joinChunks(chunks: readonly Uint8Array[], into: Uint8Array): Uint8Array {
  let at = 0;
  for (const c of chunks) {
    into.set(c, at);
    at += c.length;
  }
  return at === into.length ? into : into.subarray(0, at);
}

/**
 * Reads a request's body into a ReceivedBody, with fastify's own checks and errors for a body read as a
 * buffer: announced or received past `limit` → 413 FST_ERR_CTP_BODY_TOO_LARGE; received length not the
 * announced one → 400 FST_ERR_CTP_INVALID_CONTENT_LENGTH; a stream error → 400 unless it carries a 4xx/5xx.
 * A chunk that is a view into a larger buffer (a stream other than node's HTTP parser) is copied, so every
 * chunk may move to another thread without emptying memory that others use.
 */
export function receiveBody(req: FastifyRequest, payload: NodeJS.ReadableStream, limit: number, done: (err: Error | null, body?: ReceivedBody) => void): void {
  const announced = Number(req.headers['content-length']);
  if (announced > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const stop = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limit) {
      stop();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    chunks.push(aloneInItsBuffer(bytes) ? bytes : new Uint8Array(bytes));
  }
  function onEnd(err?: Error & { statusCode?: number }): void {
    stop();
    if (err) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      done(err);
      return;
    }
    if (!Number.isNaN(announced) && received !== announced) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    done(null, new ReceivedBody(chunks, received));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

function aloneInItsBuffer(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.byteLength === b.buffer.byteLength;
}
