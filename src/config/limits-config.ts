import { InputError } from '../model/errors.js';
import { LABEL_LIMITS } from '../model/labels.js';
import type { LimitsConfig, TenantLimits } from '../server/limits.js';

/**
 * The `limits:` section: every key of TenantLimits in snake_case at the top (defaults for all tenants)
 * and again under `tenants: { <tenant>: { … } }`. Sizes take units (64MiB), counts are integers.
 *
 *   limits: { max_decompressed: 64MiB, max_samples_per_profile: 1000000,
 *             tenants: { acme: { ingest_bytes_per_second: 10MiB, max_concurrent_queries: 4 } } }
 */
const KEYS: Readonly<Record<string, { key: keyof TenantLimits; bytes?: true; max?: number; zero?: true }>> = {
  max_decompressed: { key: 'maxDecompressedBytes', bytes: true },
  max_samples_per_profile: { key: 'maxSamplesPerProfile' },
  max_samples_per_request: { key: 'maxSamplesPerRequest' },
  max_stacks_per_request: { key: 'maxStacksPerRequest' },
  max_frames_per_request: { key: 'maxFramesPerRequest' },
  max_stack_depth: { key: 'maxStackDepth' },
  max_symbols_per_request: { key: 'maxSymbolsPerRequest' },
  max_labels_per_series: { key: 'maxLabelsPerSeries', max: LABEL_LIMITS.maxLabels },
  max_label_name_length: { key: 'maxLabelNameLength', max: LABEL_LIMITS.maxNameLength },
  max_label_value_length: { key: 'maxLabelValueLength', max: LABEL_LIMITS.maxValueLength },
  max_series_per_tenant: { key: 'maxSeriesPerTenant', zero: true },
  ingest_bytes_per_second: { key: 'ingestBytesPerSecond', bytes: true, zero: true },
  ingest_burst_seconds: { key: 'ingestBurstSeconds' },
  max_pending_writes_per_tenant: { key: 'maxPendingWritesPerTenant' },
  max_concurrent_queries: { key: 'maxConcurrentQueries' },
};

const UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };

function numberAt(v: unknown, bytes: boolean, where: string): number {
  if (typeof v === 'number') return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(v.trim()) : null;
  if (!m || (!bytes && m[2] !== undefined)) throw new InputError(`${where} must be ${bytes ? 'a size like 64MiB' : 'a whole number'}`);
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

function limitsAt(v: unknown, file: string, path: string, allowTenants: boolean): { limits: Partial<TenantLimits>; tenants?: unknown } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}: ${path} must be a mapping of keys to values`);
  const out: Partial<Record<keyof TenantLimits, number>> = {};
  let tenants: unknown;
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'tenants' && allowTenants) {
      tenants = raw;
      continue;
    }
    const spec = KEYS[k];
    const where = `${file}: ${path}.${k}`;
    if (!spec) throw new InputError(`${where} is not a limit (known: ${Object.keys(KEYS).join(', ')}${allowTenants ? ', tenants' : ''})`);
    const n = numberAt(raw, spec.bytes === true, where);
    if (!Number.isInteger(n) || n < (spec.zero ? 0 : 1)) throw new InputError(`${where} must be a whole number ${spec.zero ? '>= 0 (0: unlimited)' : '>= 1'}`);
    if (spec.max !== undefined && n > spec.max) throw new InputError(`${where} may be at most ${spec.max} (the store's own limit)`);
    out[spec.key] = n;
  }
  return { limits: out, tenants };
}

export function limitsSection(v: unknown, file: string): LimitsConfig {
  const top = limitsAt(v, file, 'limits', true);
  const tenants: Record<string, Partial<TenantLimits>> = {};
  if (top.tenants !== undefined && top.tenants !== null) {
    if (typeof top.tenants !== 'object' || Array.isArray(top.tenants)) throw new InputError(`${file}: limits.tenants must map tenant names to limits`);
    for (const [tenant, raw] of Object.entries(top.tenants as Record<string, unknown>)) {
      tenants[tenant] = limitsAt(raw, file, `limits.tenants.${tenant}`, false).limits;
    }
  }
  return { defaults: top.limits, tenants };
}
