import { protoMessage } from '../support/proto-writer.js';
import type { ProtoField } from '../support/proto-writer.js';

/**
 * A querier.v1 unary call as Grafana's backend (connect-go, default protobuf codec) sends it, the
 * request encoded by field number (independent of Kiln's generated code). The body comes back raw and,
 * for error checks, as text (a Connect error is JSON).
 */
export async function querierProtoCall(url: string, method: string, fields: readonly ProtoField[]): Promise<{ status: number; bytes: Uint8Array; text: string }> {
  const res = await fetch(`${url}/querier.v1.QuerierService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto', 'connect-protocol-version': '1', 'connect-timeout-ms': '29999', 'accept-encoding': 'gzip' },
    body: protoMessage(fields) as BodyInit,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes, text: Buffer.from(bytes).toString('utf8') };
}
