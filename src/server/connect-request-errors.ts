import type { DescService } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import type { ConnectRouter } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerResponse } from '@connectrpc/connect/protocol';

/**
 * Two answers connect-es gives for the client's own mistakes, corrected for the services wrapped here.
 *
 * A request body that is not the method's protobuf message (truncated, a bad wire type, nesting past
 * the parser's recursion limit) is the client's mistake: InvalidArgument / HTTP 400, as connect-go and
 * grpc-go answer it. connect-es parses the body before any interceptor runs and reports such a body as
 * Internal (HTTP 500), which SDKs retry forever and which reads as a server bug. So the handlers of a
 * service are wrapped here and that one answer is rewritten — identified by connect-es' own
 * "parse binary:" prefix — on the two protocols ingest clients use: Connect (error in the JSON body)
 * and gRPC (error in the trailers). gRPC-web carries its trailers inside the body and is left as is.
 *
 * A Connect body past the method's read cap that did not announce its length (chunked) is refused by
 * connect-es as ResourceExhausted, which the Connect protocol sends as HTTP 429 — and SDKs retry a 429
 * forever. It becomes 413 (the code stays resource_exhausted), as limits-hooks.ts answers a body whose
 * Content-Length is already too large.
 */
const PARSE_FAILURE = 'parse binary: ';
const GRPC_STATUS = 'grpc-status';
const GRPC_MESSAGE = 'grpc-message';
const CONNECT_CODE_INVALID_ARGUMENT = 'invalid_argument';
const READ_CAP = /larger than configured readMaxBytes (\d+)/;

/** Wraps every handler `router` holds for `service` (call after `router.service(service, …)`). */
export function mapRequestErrors(router: ConnectRouter, service: DescService): void {
  const handlers = router.handlers;
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i]!;
    if (h.service.typeName === service.typeName) handlers[i] = wrap(h);
  }
}

function wrap(handler: UniversalHandler): UniversalHandler {
  const what = `${handler.method.input.typeName} message`;
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    if ((res.status === 500 || res.status === 429) && res.body) return connectAnswer(res, what, req.httpVersion.startsWith('1'));
    if (res.trailer) return { ...res, body: res.body && fixTrailerAfter(res.body, res.trailer, what) };
    return res;
  };
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

function reason(message: string, what: string): string {
  return `the request body is not a valid ${what}: ${message.slice(PARSE_FAILURE.length)}`;
}

/** Connect unary: connect-es' parse failure (500) becomes 400 invalid_argument, its read-cap refusal (429) 413. */
async function connectAnswer(res: UniversalServerResponse, what: string, http1: boolean): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const c of res.body!) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  const same = { ...res, body: once(bytes) };
  // A compressed error body is never a parse failure's (they are far below the compression threshold).
  if (res.header?.get('content-encoding')) return same;
  let error: { code?: unknown; message?: unknown };
  try {
    error = JSON.parse(bytes.toString('utf8')) as typeof error;
  } catch {
    return same;
  }
  if (typeof error.message !== 'string') return same;
  const cap = READ_CAP.exec(error.message);
  if (res.status === 429 && error.code === 'resource_exhausted' && cap) {
    const message = `the request body is larger than ${cap[1]} bytes, the most this method takes: over the limit max_body (kiln server --max-body; OTLP over gRPC/Connect takes at most 4 MiB, /v1development/profiles more)`;
    const answer = rewritten(res, 413, { code: 'resource_exhausted', message });
    // The rest of the body is never read: on HTTP/1.1 the connection cannot carry another request
    // (the client's next one would wait behind the unread bytes), so it is closed after this answer.
    if (http1) answer.header!.set('connection', 'close');
    return answer;
  }
  if (res.status !== 500 || error.code !== 'internal' || !error.message.startsWith(PARSE_FAILURE)) return same;
  return rewritten(res, 400, { code: CONNECT_CODE_INVALID_ARGUMENT, message: reason(error.message, what) });
}

function rewritten(res: UniversalServerResponse, status: number, error: { code: string; message: string }): UniversalServerResponse {
  const body = Buffer.from(JSON.stringify(error));
  const header = new Headers(res.header);
  header.set('content-length', String(body.length));
  return { ...res, status, header, body: once(body) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** gRPC: the status is in the trailers, final once the body is done (the adapter sends them after it). */
async function* fixTrailerAfter(body: AsyncIterable<Uint8Array>, trailer: Headers, what: string): AsyncIterable<Uint8Array> {
  yield* body;
  if (trailer.get(GRPC_STATUS) !== String(Code.Internal)) return;
  const message = decodeURIComponent(trailer.get(GRPC_MESSAGE) ?? '');
  if (!message.startsWith(PARSE_FAILURE)) return;
  trailer.set(GRPC_STATUS, String(Code.InvalidArgument));
  trailer.set(GRPC_MESSAGE, encodeURIComponent(reason(message, what)));
}
