import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import {
  ExportProfilesServiceRequestSchema,
  type ExportProfilesServiceRequest,
} from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { InputError } from '../model/errors.js';
import type { DecodeLimits } from './decode-limits.js';
import { assertOtlpLayout } from './otlp-layout.js';
import { checkOtlpJsonLimits, checkOtlpWireLimits } from './otlp-limits.js';

/**
 * OTLP profiles on the wire: binary protobuf and OTLP/JSON.
 *
 * OTLP/JSON is protobuf's JSON mapping with one difference: trace ids, span ids and profile ids are
 * hex strings, not base64 (OTLP specification, "JSON Protobuf Encoding"). These helpers translate
 * those fields both ways; everything else is the standard mapping. Unknown fields are ignored, as
 * the specification asks of receivers.
 */

/** With `limits`, a request breaking one is refused from its bytes, before parsing builds its objects. */
export function parseOtlpProtobuf(bytes: Uint8Array, limits?: DecodeLimits): ExportProfilesServiceRequest {
  // The limits first: they stop reading at the sample that breaks one, where the layout check reads every sample.
  if (limits) checkOtlpWireLimits(bytes, limits);
  // An older layout may parse without error and mean something else: refuse it by name before parsing.
  assertOtlpLayout(bytes);
  try {
    return fromBinary(ExportProfilesServiceRequestSchema, bytes);
  } catch (e) {
    throw new InputError(`not an OTLP ExportProfilesServiceRequest (protobuf): ${(e as Error).message}`);
  }
}

export function serializeOtlpProtobuf(req: ExportProfilesServiceRequest): Uint8Array {
  return toBinary(ExportProfilesServiceRequestSchema, req);
}

/** With `limits`, a body with more samples or symbols than they allow is refused from its text, before JSON.parse builds it. */
export function parseOtlpJson(text: string, limits?: DecodeLimits): ExportProfilesServiceRequest {
  if (limits) checkOtlpJsonLimits(text, limits);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`OTLP JSON body is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputError('OTLP JSON body must be an ExportProfilesServiceRequest object');
  }
  rewriteIds(json as JsonObject, hexToBase64);
  try {
    return fromJson(ExportProfilesServiceRequestSchema, json as JsonValue, { ignoreUnknownFields: true });
  } catch (e) {
    throw new InputError(`not an OTLP ExportProfilesServiceRequest (JSON): ${(e as Error).message}`);
  }
}

export function serializeOtlpJson(req: ExportProfilesServiceRequest): string {
  const json = toJson(ExportProfilesServiceRequestSchema, req) as JsonObject;
  rewriteIds(json, base64ToHex);
  return JSON.stringify(json);
}

type JsonObject = { [k: string]: unknown };

function objects(v: unknown): JsonObject[] {
  return Array.isArray(v) ? v.filter((x): x is JsonObject => x !== null && typeof x === 'object' && !Array.isArray(x)) : [];
}

function field(o: JsonObject, camel: string, snake: string): string | undefined {
  return camel in o ? camel : snake in o ? snake : undefined;
}

/** Applies `convert` to every id field (links' trace/span ids, profiles' ids), in either key spelling. */
function rewriteIds(root: JsonObject, convert: (s: string) => string): void {
  const fix = (o: JsonObject, camel: string, snake: string): void => {
    const k = field(o, camel, snake);
    if (k && typeof o[k] === 'string') o[k] = convert(o[k] as string);
  };
  const dict = root[field(root, 'dictionary', 'dictionary') ?? ''];
  if (dict && typeof dict === 'object' && !Array.isArray(dict)) {
    const d = dict as JsonObject;
    for (const link of objects(d[field(d, 'linkTable', 'link_table') ?? ''])) {
      fix(link, 'traceId', 'trace_id');
      fix(link, 'spanId', 'span_id');
    }
  }
  for (const rp of objects(root[field(root, 'resourceProfiles', 'resource_profiles') ?? ''])) {
    for (const sp of objects(rp[field(rp, 'scopeProfiles', 'scope_profiles') ?? ''])) {
      for (const p of objects(sp['profiles'])) fix(p, 'profileId', 'profile_id');
    }
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** A hex id as base64 (what protobuf JSON expects); anything not hex is left for the parser to judge. */
function hexToBase64(s: string): string {
  return HEX.test(s) ? Buffer.from(s, 'hex').toString('base64') : s;
}

function base64ToHex(s: string): string {
  return Buffer.from(s, 'base64').toString('hex');
}
