import { InputError } from '../model/errors.js';

/** Pyroscope SDKs' per-sample-type settings sent beside a multipart profile. */
export type SampleTypeConfig = Record<string, { units?: string; aggregation?: string; 'display-name'?: string; cumulative?: boolean }>;

export interface MultipartProfile {
  readonly profile: Uint8Array;
  readonly sampleTypeConfig?: SampleTypeConfig;
}

/**
 * Reads a multipart/form-data ingest body with the platform's own multipart parser (the WHATWG
 * `Response.formData`, already bounded by the body-size cap) and returns its `profile` part.
 */
export async function readMultipartProfile(body: Uint8Array, contentType: string): Promise<MultipartProfile> {
  const form = await parseForm(body, contentType);
  const profile = form.get('profile');
  if (profile === null) throw new InputError('multipart body has no "profile" part');
  // Old SDKs send cumulative profiles with the previous one beside them; stored as they are, they would
  // count everything since the process started again every time. Pyroscope refuses them (422) with this message.
  if (form.get('prev_profile') !== null) {
    throw new InputError('unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version', 422);
  }
  const bytes = await partBytes(profile);
  const configPart = form.get('sample_type_config');
  if (configPart === null) return { profile: bytes };
  const text = typeof configPart === 'string' ? configPart : await configPart.text();
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new InputError('multipart "sample_type_config" part is not JSON');
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InputError('multipart "sample_type_config" must be a JSON object keyed by sample type');
  }
  return { profile: bytes, sampleTypeConfig: config as SampleTypeConfig };
}

/** The Pyroscope Java agent's upload: a `jfr` part (the recording) and an optional `labels` part (per-context labels). */
export interface MultipartJfr {
  readonly jfr: Uint8Array;
  readonly contextLabels?: Uint8Array;
}

export async function readMultipartJfr(body: Uint8Array, contentType: string): Promise<MultipartJfr> {
  const form = await parseForm(body, contentType);
  const jfr = form.get('jfr');
  if (jfr === null) throw new InputError('multipart body with format=jfr has no "jfr" part (the Pyroscope Java agent sends the recording as "jfr")');
  const labels = form.get('labels');
  return { jfr: await partBytes(jfr), contextLabels: labels === null ? undefined : await partBytes(labels) };
}

async function parseForm(body: Uint8Array, contentType: string): Promise<FormData> {
  try {
    return await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  } catch (e) {
    throw new InputError(`malformed multipart/form-data body: ${(e as Error).message}`);
  }
}

async function partBytes(part: string | Blob): Promise<Uint8Array> {
  return typeof part === 'string' ? new TextEncoder().encode(part) : new Uint8Array(await part.arrayBuffer());
}
