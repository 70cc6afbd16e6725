import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../src/agent/metrics.js';

describe('agent /metrics', () => {
  it('serves BPF drops, symbolization hit rate and export figures in Prometheus text', async () => {
    const m = new AgentMetrics();
    m.recordBpf({ samples: 100, idle: 10, counts_full: 2, stacks_full: 3, stack_error: 0 });
    m.recordSymbolizer({ frames: 200, symbolized: 150, cachedSymbols: 42 });
    m.exportErrors.inc({ kind: 'retry' });
    m.exportDuration.observe(0.02);
    const server = await m.serve(0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toContain('kiln_agent_bpf_samples_total 100');
      expect(text).toContain('kiln_agent_bpf_dropped_samples_total{reason="counts_full"} 2');
      expect(text).toContain('kiln_agent_bpf_dropped_samples_total{reason="stacks_full"} 3');
      expect(text).toContain('kiln_agent_symbolize_hit_ratio 0.75');
      expect(text).toContain('kiln_agent_symbolizer_stat{stat="cachedSymbols"} 42');
      expect(text).toContain('kiln_agent_export_errors_total{kind="retry"} 1');
      expect(text).toContain('kiln_agent_export_duration_seconds_count 1');
      expect(text).toContain('kiln_agent_process_resident_memory_bytes');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('says which port is taken', async () => {
    const a = new AgentMetrics();
    const first = await a.serve(0, '127.0.0.1');
    try {
      await expect(new AgentMetrics().serve(first.port, '127.0.0.1')).rejects.toThrow(`--metrics-port ${first.port} is already in use`);
    } finally {
      await first.close();
    }
  });
});
