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
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  } catch (e) {
    throw new InputError(`malformed multipart/form-data body: ${(e as Error).message}`);
  }
  const profile = form.get('profile');
  if (profile === null) throw new InputError('multipart body has no "profile" part');
  // Old SDKs send cumulative profiles with the previous one beside them; stored as they are, they would
  // count everything since the process started again every time. Pyroscope refuses them (422) with this message.
  if (form.get('prev_profile') !== null) {
    throw new InputError('unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version', 422);
  }
  const bytes = typeof profile === 'string' ? new TextEncoder().encode(profile) : new Uint8Array(await profile.arrayBuffer());
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
