import { gunzipBounded } from './compression.js';
import { decodeJfrLabels } from './jfr-labels.js';
import type { JfrDecodeOptions } from './jfr-profile.js';
import { decodeJfr } from './jfr-profile.js';
import type { Profile } from '../model/profile.js';

/**
 * A Pyroscope Java agent upload: the JFR recording and, optionally, its per-context labels. The agent
 * gzips each multipart part on its own (no Content-Encoding says so), so either may come gzipped.
 */
export function decodeJfrUpload(
  jfr: Uint8Array,
  contextLabels: Uint8Array | undefined,
  opts: Omit<JfrDecodeOptions, 'contexts'>,
  maxDecompressed: number,
): Profile[] {
  const contexts = contextLabels && contextLabels.length > 0 ? decodeJfrLabels(gunzipBounded(contextLabels, maxDecompressed)) : undefined;
  return decodeJfr(gunzipBounded(jfr, maxDecompressed), { ...opts, contexts });
}
