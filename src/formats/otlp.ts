/**
 * OTLP profiles (opentelemetry-proto profiles/v1development, the 1.8-era layout the OpenTelemetry
 * eBPF profiler writes): decode into Kiln profiles and encode Kiln profiles for export.
 *
 * - otlp-decode.ts: request → Profile[] (labels, types, stacks, series split)
 * - otlp-encode.ts: Profile[] → request
 * - otlp-wire.ts: protobuf and OTLP/JSON bodies
 * - otlp-attributes.ts, otlp-profile-type.ts, otlp-frame-type.ts: the documented mappings
 */
import type { Profile } from '../model/profile.js';
import { decodeOtlp, type DecodeOtlpOptions } from './otlp-decode.js';
import { encodeOtlp } from './otlp-encode.js';
import { parseOtlpJson, parseOtlpProtobuf, serializeOtlpJson, serializeOtlpProtobuf } from './otlp-wire.js';

export { decodeOtlp, decodeOtlpEach, type DecodeOtlpOptions, type OtlpProfileResult } from './otlp-decode.js';
export { encodeOtlp, KILN_SCOPE } from './otlp-encode.js';
export { parseOtlpJson, parseOtlpProtobuf, serializeOtlpJson, serializeOtlpProtobuf } from './otlp-wire.js';
export type {
  ExportProfilesServiceRequest,
  ExportProfilesServiceResponse,
} from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';

export { OTLP_HTTP_PATH, OTLP_JSON_TYPE, OTLP_PROTOBUF_TYPE } from './otlp-names.js';

export function decodeOtlpProtobuf(bytes: Uint8Array, opts?: DecodeOtlpOptions): Profile[] {
  return decodeOtlp(parseOtlpProtobuf(bytes), opts);
}

export function decodeOtlpJson(text: string, opts?: DecodeOtlpOptions): Profile[] {
  return decodeOtlp(parseOtlpJson(text), opts);
}

/** What the agent sends: a binary ExportProfilesServiceRequest body. */
export function encodeOtlpProtobuf(profiles: readonly Profile[]): Uint8Array {
  return serializeOtlpProtobuf(encodeOtlp(profiles));
}

export function encodeOtlpJson(profiles: readonly Profile[]): string {
  return serializeOtlpJson(encodeOtlp(profiles));
}
