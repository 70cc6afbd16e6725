import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { InputError } from '../model/errors.js';
import type { DualHandler, DualProtocolServer } from './dual-protocol.js';
import { createDualProtocolServer } from './dual-protocol.js';

/** PEM certificate chain and private key (`kiln server --tls-cert … --tls-key …`). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * HTTPS on the server's one port: TLS is terminated here and the decrypted connection goes to the same
 * HTTP/1.1-or-HTTP/2 server as cleartext ones (dual-protocol.ts), so every protocol — REST, Connect,
 * gRPC, the UI — works over TLS unchanged. ALPN offers h2 first (gRPC needs it) and http/1.1.
 */
export function createTlsServer(files: TlsFiles, handler: DualHandler): DualProtocolServer {
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new InputError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const inner = createDualProtocolServer(handler);
  let outer: tls.Server;
  try {
    outer = tls.createServer({ cert: read(files.certFile, '--tls-cert'), key: read(files.keyFile, '--tls-key'), ALPNProtocols: ['h2', 'http/1.1'] });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`--tls-cert/--tls-key: ${(e as Error).message}`);
  }
  outer.on('secureConnection', (socket) => inner.emit('connection', socket));
  // A failed handshake (a cleartext client, a scanner) concerns that connection only.
  outer.on('tlsClientError', (_err, socket) => socket.destroy());
  const server = outer as unknown as DualProtocolServer;
  server.closeAllConnections = () => inner.closeAllConnections();
  server.closeIdleConnections = () => inner.closeIdleConnections();
  for (const key of ['keepAliveTimeout', 'requestTimeout', 'headersTimeout', 'maxRequestsPerSocket'] as const) {
    Object.defineProperty(server, key, {
      get: () => (inner as unknown as Record<string, number>)[key],
      set: (v: number) => {
        (inner as unknown as Record<string, number>)[key] = v;
      },
    });
  }
  outer.on('close', () => inner.emit('close'));
  return server;
}
