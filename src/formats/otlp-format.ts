import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded } from './compression.js';
import type { DecodeLimits } from './decode-limits.js';
import { decodeOtlp } from './otlp-decode.js';
import { parseOtlpJson, parseOtlpProtobuf } from './otlp-wire.js';
import { registerFormat } from './registry.js';

/**
 * Registers `otlp` with the format registry (`kiln ingest capture.pb.bin --format otlp`, `format=otlp`).
 * Import this module once for its side effect wherever formats are wired (CLI, server).
 * The payload is an ExportProfilesServiceRequest as protobuf or OTLP/JSON, optionally gzipped.
 */

/**
 * A leading `{` (after white space) suggests JSON, but a protobuf request can start the same way
 * (0x0a is both a newline and the tag of field 1), so a body that fails as JSON is tried as protobuf.
 */
function maybeJson(data: Uint8Array): boolean {
  for (const c of data) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b;
  }
  return false;
}

function parseEither(raw: Uint8Array, limits: DecodeLimits | undefined): ReturnType<typeof parseOtlpProtobuf> {
  try {
    return parseOtlpJson(new TextDecoder().decode(raw), limits);
  } catch (jsonError) {
    try {
      return parseOtlpProtobuf(raw, limits);
    } catch {
      throw jsonError;
    }
  }
}

registerFormat('otlp', (data, opts) => {
  const raw = gunzipBounded(data, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED);
  const limits = opts.budget?.limits;
  const req = maybeJson(raw) ? parseEither(raw, limits) : parseOtlpProtobuf(raw, limits);
  return decodeOtlp(req, { ...(opts.timeMs !== undefined ? { nowMs: opts.timeMs } : {}), ...(opts.labels ? { labels: opts.labels } : {}), ...(limits ? { limits } : {}) });
});
