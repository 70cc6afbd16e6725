import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { SERVICE_NAME, labelsFrom } from '../model/labels.js';

/** Suffixes Pyroscope SDKs append to the app name to say which profile a push carries. */
const TYPE_SUFFIXES = new Set([
  'cpu', 'itimer', 'wall', 'alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space', 'goroutines',
  'goroutine', 'mutex_count', 'mutex_duration', 'block_count', 'block_duration', 'exceptions',
  // The Pyroscope Java agent's (async-profiler's event names).
  'alloc_in_new_tlab_objects', 'alloc_in_new_tlab_bytes', 'alloc_outside_tlab_objects', 'alloc_outside_tlab_bytes',
  'lock_count', 'lock_duration', 'live',
]);

export interface IngestName {
  /** The name without its labels, e.g. `checkout.cpu` (decoders read the type from its suffix). */
  readonly name: string;
  /** The labels from `{…}` plus service_name (the app name minus a type suffix) unless they set it. */
  readonly labels: Labels;
}

const MAX_NAME_CHARS = 64 * 1024;

/**
 * Parses Pyroscope's `name` parameter: `app.cpu{env=prod,region=us-west-1}`. Values are taken as they
 * stand (no quoting in this syntax); a value may be quoted with "…" for symmetry with selectors.
 */
export function parseIngestName(raw: string | undefined): IngestName {
  if (raw === undefined || raw.trim() === '') throw new InputError('missing "name" parameter (e.g. name=checkout.cpu{env=prod})');
  if (raw.length > MAX_NAME_CHARS) throw new InputError(`"name" parameter is longer than ${MAX_NAME_CHARS} characters`);
  const brace = raw.indexOf('{');
  const name = (brace < 0 ? raw : raw.slice(0, brace)).trim();
  if (name === '') throw new InputError(`"name" parameter "${raw.slice(0, 80)}" has no application name before {`);
  const pairs: [string, string][] = [];
  if (brace >= 0) {
    if (!raw.trimEnd().endsWith('}')) throw new InputError(`"name" parameter "${raw.slice(0, 80)}": labels must end with }`);
    const body = raw.slice(brace + 1, raw.trimEnd().length - 1);
    for (const part of body.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InputError(`"name" parameter: label "${part.slice(0, 80)}" is not key=value`);
      // SDKs send OpenTelemetry-style keys (`process.runtime.name`); like Pyroscope, dots become
      // underscores. Any other character Prometheus rejects stays and is refused by validation.
      const key = part.slice(0, eq).trim().replace(/\./g, '_');
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      pairs.push([key, value]);
    }
  }
  if (!pairs.some(([k]) => k === SERVICE_NAME)) pairs.unshift([SERVICE_NAME, serviceName(name)]);
  return { name, labels: labelsFrom(pairs) };
}

/** `checkout.cpu` → `checkout`; names without a known type suffix stay whole (`my.app` stays `my.app`). */
export function serviceName(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 && TYPE_SUFFIXES.has(name.slice(dot + 1)) ? name.slice(0, dot) : name;
}
