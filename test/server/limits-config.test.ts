import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';

describe('limits: section of the server config', () => {
  it('reads defaults and per-tenant overrides, sizes with units', () => {
    const cfg = parseServerConfig('limits:\n  max_decompressed: 16MiB\n  max_stack_depth: 512\n  tenants:\n    acme: { ingest_bytes_per_second: 10MiB, max_concurrent_queries: 4 }\n', 'kiln.yaml');
    expect(cfg.limits).toEqual({
      defaults: { maxDecompressedBytes: 16 * 1024 * 1024, maxStackDepth: 512 },
      tenants: { acme: { ingestBytesPerSecond: 10 * 1024 * 1024, maxConcurrentQueries: 4 } },
    });
    expect(cfg.unknownSections).toEqual([]);
  });

  it('max_series_per_tenant takes 0 (unlimited) and counts', () => {
    const cfg = parseServerConfig('limits:\n  max_series_per_tenant: 0\n  tenants:\n    acme: { max_series_per_tenant: 5000 }\n', 'kiln.yaml');
    expect(cfg.limits).toEqual({ defaults: { maxSeriesPerTenant: 0 }, tenants: { acme: { maxSeriesPerTenant: 5000 } } });
  });

  it.each([
    ['limits:\n  max_samples: 5\n', /kiln.yaml: limits.max_samples is not a limit/],
    ['limits:\n  max_stack_depth: 0\n', /kiln.yaml: limits.max_stack_depth must be a whole number >= 1/],
    ['limits:\n  max_stack_depth: 10MiB\n', /kiln.yaml: limits.max_stack_depth must be a whole number/],
    ['limits:\n  tenants:\n    acme: { max_label_value_length: 5000 }\n', /kiln.yaml: limits.tenants.acme.max_label_value_length may be at most 1024/],
    ['limits:\n  tenants:\n    acme: { tenants: {} }\n', /kiln.yaml: limits.tenants.acme.tenants is not a limit/],
  ])('%j → an error naming the file and the key', (text, message) => {
    expect(() => parseServerConfig(text, 'kiln.yaml')).toThrow(message);
  });
});
