/**
 * The names OTLP profiles travel under, in a module with no imports: a sender that writes the
 * protobuf bytes itself (the agent's OTLP writer) needs these and nothing else, and importing them
 * from otlp.ts would load the protobuf runtime and generated code the decoder uses (≈ 11 MiB of RSS).
 */

/** Where OTLP/HTTP sends profiles (the server serves it, the agent and `kiln ingest` post to it). */
export const OTLP_HTTP_PATH = '/v1development/profiles';

/** Media types OTLP/HTTP uses for its two encodings. */
export const OTLP_PROTOBUF_TYPE = 'application/x-protobuf';
export const OTLP_JSON_TYPE = 'application/json';

/** Instrumentation scope Kiln writes its profiles under. */
export const KILN_SCOPE = 'kiln';
