import type { Registry } from 'prom-client';
import { labelsFrom } from '../model/labels.js';
import type { MetricSample } from './exposition.js';

/**
 * Kiln's own health metrics (the prom-client registry behind /metrics) as samples by metric name, so
 * alert rules can threshold them too (`kiln_ingest_errors_total{reason="internal"} > 0`). Histogram
 * and summary parts keep their exposition names (`…_bucket`, `…_sum`, `…_count`).
 */
export async function registrySamples(registry: Registry): Promise<Map<string, MetricSample[]>> {
  const out = new Map<string, MetricSample[]>();
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values) {
      const name = (v as { metricName?: string }).metricName ?? m.name;
      const labels = labelsFrom(Object.entries(v.labels).map(([k, x]) => [k, String(x)] as const));
      let list = out.get(name);
      if (!list) out.set(name, (list = []));
      list.push({ labels, value: v.value });
    }
  }
  return out;
}
