import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { ConnectionLimits } from './connections.js';
import { DEFAULT_CONNECTION_LIMITS } from './connections.js';

/** What fastify's serverFactory hands us: one handler for both request flavours. */
export type DualHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** A TCP server that serves HTTP/1.1 and h2c on one port; close helpers fastify calls on shutdown. */
export interface DualProtocolServer extends net.Server {
  closeAllConnections(): void;
  closeIdleConnections(): void;
}

/**
 * Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, and gRPC clients speak h2c with prior
 * knowledge (no Upgrade). So we accept raw TCP, read just enough bytes to see whether the connection
 * starts with the HTTP/2 preface, put them back, and hand the socket to the matching server.
 */
export function createDualProtocolServer(handler: DualHandler, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): DualProtocolServer {
  const h1 = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // How often Node looks for connections past those timeouts: often enough for their precision.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.headersTimeoutMs / 4)),
    },
    handler as (req: http.IncomingMessage, res: http.ServerResponse) => void,
  );
  const h2 = http2.createServer({}, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sockets = new Set<net.Socket>();
  /** Connections that have not completed a request yet, oldest first: the ones evicted at the cap. */
  const fresh = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    if (s.socket) fresh.delete(s.socket as net.Socket);
    s.once('close', () => sessions.delete(s));
    // Idle HTTP/2 connections are closed politely (GOAWAY), as HTTP/1.1 keep-alive ones time out.
    s.setTimeout(limits.idleTimeoutMs, () => s.close());
  });
  h1.on('request', (req: http.IncomingMessage) => fresh.delete(req.socket));

  const tcp = net.createServer((socket) => {
    if (sockets.size >= limits.maxConnections) {
      const oldest = fresh.values().next();
      if (oldest.done) {
        socket.destroy();
        return;
      }
      oldest.value.destroy();
      fresh.delete(oldest.value);
    }
    sockets.add(socket);
    fresh.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      fresh.delete(socket);
    });
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2Prefix = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // Decide as soon as the bytes diverge from the preface, or once the whole preface is in.
      if (isH2Prefix && seen.length < H2_PREFACE.length) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      if (isH2Prefix) {
        // The http2 session reads what is already buffered on the next tick; resuming here would
        // flow those bytes to no listener and lose them.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    // A connection that never sends its first bytes would otherwise be held forever.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
  }) as DualProtocolServer;

  tcp.closeIdleConnections = () => {
    h1.closeIdleConnections();
    for (const s of sessions) s.close();
  };
  tcp.closeAllConnections = () => {
    for (const s of sessions) s.destroy();
    for (const sock of sockets) sock.destroy();
  };
  // fastify sets these timeouts on the server it gets; forward them to the HTTP/1.1 server they concern.
  for (const key of ['keepAliveTimeout', 'requestTimeout', 'headersTimeout', 'maxRequestsPerSocket'] as const) {
    Object.defineProperty(tcp, key, {
      get: () => h1[key],
      set: (v: number) => {
        h1[key] = v;
      },
    });
  }
  // Node's HTTP server starts the clock that enforces headersTimeout/requestTimeout when it listens;
  // this one never listens itself (the TCP server does), so it is told when that happens.
  tcp.on('listening', () => h1.emit('listening'));
  tcp.on('close', () => {
    h1.close();
    h2.close();
  });
  return tcp;
}
