import { describe, expect, it } from 'vitest';
import { BPF_COUNTERS, type BpfCounters } from '../../src/agent/loader.js';
import { AgentMetrics } from '../../src/agent/metrics.js';

const counters = (some: Partial<BpfCounters>): BpfCounters => ({ ...(Object.fromEntries(BPF_COUNTERS.map((n) => [n, 0])) as BpfCounters), ...some });

describe('agent /metrics', () => {
  it('serves BPF drops, symbolization hit rate and export figures in Prometheus text', async () => {
    const m = new AgentMetrics();
    m.recordBpf(counters({ samples: 100, idle: 10, counts_full: 2, stacks_full: 3, user_walks: 90, unwind_complete: 80, unwind_read_error: 4, unwind_bad_pc: 6, fp_frames: 12, python_frames: 30, off_cpu_events: 5, off_cpu_kept: 2 }));
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
      // How each user-stack walk ended, by reason.
      expect(text).toContain('kiln_agent_unwind_stacks_total{result="complete"} 80');
      expect(text).toContain('kiln_agent_unwind_stacks_total{result="read_error"} 4');
      expect(text).toContain('kiln_agent_unwind_stacks_total{result="bad_pc"} 6');
      expect(text).toContain('kiln_agent_unwind_stacks_total{result="truncated"} 0');
      expect(text).toContain('kiln_agent_unwind_frames_total{kind="frame_pointer"} 12');
      expect(text).toContain('kiln_agent_unwind_frames_total{kind="python"} 30');
      expect(text).toContain('kiln_agent_off_cpu_blocks_total{outcome="kept"} 2');
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
