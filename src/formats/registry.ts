import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { InputError, parseProfileType } from '../model/index.js';
import type { Profile, ProfileType } from '../model/index.js';
import { DEFAULT_MAX_DECOMPRESSED, gunzipBounded, isGzip } from './compression.js';
import { parseFolded } from './folded.js';
import { decodeJfrUpload } from './jfr.js';
import { parseLines } from './lines.js';
import type { DecodeWithType, TypedDecodeOptions } from './options.js';
import { parsePerfScript } from './perf-script.js';
import { decodePprof } from './pprof.js';
import { parseSpeedscope } from './speedscope.js';

/**
 * Every ingest format by name: the server's `format=` parameter and the CLI's `--format` land here.
 * Extension point: a codec living in its own file registers itself with `registerFormat('otlp', …)`
 * (imported once for its side effect by whoever wires the server/CLI), and nothing here changes.
 */
export type { DecodeWithType } from './options.js';
export type Decoder = (data: Uint8Array, opts: DecodeWithType) => Profile[];

/** Text formats carry sample counts and no type of their own; this is what they are unless told. */
export const DEFAULT_TEXT_TYPE: ProfileType = parseProfileType('process_cpu:samples:count:cpu:nanoseconds');

const decoders = new Map<string, Decoder>();

export function registerFormat(name: string, decoder: Decoder): void {
  decoders.set(name, decoder);
}

export function knownFormats(): string[] {
  return [...decoders.keys()].sort();
}

export function decodeProfiles(format: string, data: Uint8Array, opts: DecodeWithType = {}): Profile[] {
  const decoder = decoders.get(format);
  if (!decoder) {
    throw new InputError(`unknown format "${format.slice(0, 40)}": known formats are ${knownFormats().join(', ')}`, 415);
  }
  if (data.length === 0) throw new InputError(`empty ${format} payload`);
  return decoder(data, opts);
}

/** Text payloads may come gzipped (e.g. `perf script | gzip`); invalid UTF-8 becomes U+FFFD, not an error. */
function text(data: Uint8Array, opts: DecodeWithType): string {
  return new TextDecoder().decode(gunzipBounded(data, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED));
}

function typed(opts: DecodeWithType): TypedDecodeOptions {
  return { ...opts, type: opts.type ?? DEFAULT_TEXT_TYPE };
}

registerFormat('pprof', (data, opts) => decodePprof(data, opts));
registerFormat('folded', (data, opts) => [parseFolded(text(data, opts), typed(opts))]);
registerFormat('lines', (data, opts) => [parseLines(text(data, opts), typed(opts))]);
registerFormat('perf', (data, opts) => [parsePerfScript(text(data, opts), typed(opts))]);
registerFormat('speedscope', (data, opts) => parseSpeedscope(text(data, opts), opts));
/** A JFR file on its own carries no sample rate; the Pyroscope Java agent's default (100 Hz) values its samples. */
const JFR_DEFAULT_PERIOD_NS = 1e9 / 100;
registerFormat('jfr', (data, opts) =>
  decodeJfrUpload(data, undefined, { labels: opts.labels ?? [], periodNs: JFR_DEFAULT_PERIOD_NS, timeMs: opts.timeMs, budget: opts.budget }, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED),
);

const SNIFF_BYTES = 64 * 1024;

/** The first bytes of the payload, decompressed if gzipped (a truncated gzip prefix inflates fine). */
function head(data: Uint8Array): Uint8Array {
  if (!isGzip(data)) return data.subarray(0, SNIFF_BYTES);
  try {
    const out = gunzipSync(data.subarray(0, SNIFF_BYTES), { finishFlush: constants.Z_SYNC_FLUSH });
    return out.subarray(0, SNIFF_BYTES);
  } catch {
    return new Uint8Array(0);
  }
}

function looksLikeText(b: Uint8Array): boolean {
  let control = 0;
  for (const c of b) if (c < 9 || (c > 13 && c < 32)) control++;
  return b.length > 0 && control === 0;
}

const PERF_EVENT = /^\S.*?\s+\d+(\/\d+)?\s.*:\s*$/m;
const PERF_FRAME = /^\s+[0-9a-f]+ .+ \(\S*\)\s*$/m;
const FOLDED_LINE = /^.+ \d+(\.\d+)?$/;

/**
 * Guesses a file's format for `kiln ingest FILE` from its name and first bytes: OTLP (by name, or JSON
 * with `resourceProfiles`) when that codec is registered, other JSON → speedscope,
 * `perf script` event + frame lines → perf, `stack COUNT` lines → folded, other text → lines,
 * a JFR recording (`.jfr` or its `FLR` magic) → jfr, anything else binary → pprof (raw or gzipped).
 */
export function detectFormat(fileName: string, data: Uint8Array): string {
  const name = fileName.toLowerCase().replace(/\.gz$/, '');
  // OTLP captures are protobuf too; only their name tells them from pprof (when that codec is present).
  if (decoders.has('otlp') && /otlp|otel/.test(path.basename(name))) return 'otlp';
  if (/\.(pb|pprof|prof)$/.test(name)) return 'pprof';
  if (name.endsWith('.jfr')) return 'jfr';
  if (name.endsWith('.speedscope.json')) return 'speedscope';
  const b = head(data);
  if (b[0] === 0x46 && b[1] === 0x4c && b[2] === 0x52 && b[3] === 0) return 'jfr'; // "FLR\0": a JFR chunk
  if (!looksLikeText(b)) return 'pprof';
  const t = new TextDecoder().decode(b);
  if (/^\s*\{/.test(t)) return decoders.has('otlp') && t.includes('"resourceProfiles"') ? 'otlp' : 'speedscope';
  if (PERF_EVENT.test(t) && PERF_FRAME.test(t)) return 'perf';
  if (/\.(folded|collapsed)$/.test(name)) return 'folded';
  const all = t.split('\n');
  if (b.length >= SNIFF_BYTES) all.pop(); // cut mid-line
  const lines = all.slice(0, 50).map((l) => l.trimEnd()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length > 0 && lines.every((l) => FOLDED_LINE.test(l))) return 'folded';
  return 'lines';
}
