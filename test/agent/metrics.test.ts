import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BPF_COUNTERS, type BpfCounters } from '../../src/agent/loader.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { Counter, Gauge, Histogram, MetricsRegistry } from '../../src/agent/metrics-registry.js';
import { PROMTOOL, requireBinary } from '../insight/prometheus.js';

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

  it("passes Prometheus' own parser and linter, and shows the process and runtime series", async () => {
    requireBinary(PROMTOOL, 'prometheus');
    const m = new AgentMetrics();
    m.recordSymbolizer({ frames: 10, symbolized: 9, cachedSymbols: 3 });
    m.intervalDuration.observe(0.003);
    const text = await m.registry.metrics();
    const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // The only remarks: three gauge names that end in _total, kept as prom-client named them so existing dashboards work.
    const remarks = `${lint.stdout}${lint.stderr}`.split('\n').filter((l) => l.trim() !== '');
    const inherited = /^kiln_agent_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    expect(remarks.filter((l) => !inherited.test(l)), text).toEqual([]);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(text).toMatch(new RegExp(`^kiln_agent_${name} [0-9.e+-]+$`, 'm'));
    }
    const rss = Number(/^kiln_agent_process_resident_memory_bytes (\S+)$/m.exec(text)![1]);
    expect(rss, 'RSS as /proc says, in bytes').toBeGreaterThan(10 * 1048576);
    expect(text).toContain('# TYPE kiln_agent_interval_duration_seconds histogram');
    expect(text).toContain('kiln_agent_interval_duration_seconds_bucket{le="0.005"} 1');
    expect(text).toContain(`kiln_agent_nodejs_version_info{version="${process.version}"`);
  });

  it("reports the event loop's delay from how late the agent's own timers fired, and zeros when none fired", async () => {
    const m = new AgentMetrics();
    m.timerFired(3);
    m.timerFired(40);
    const gauge = (text: string, name: string) => Number(new RegExp(`^kiln_agent_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)![1]);
    const first = await m.registry.metrics();
    expect(gauge(first, 'min')).toBeCloseTo(0.003, 4);
    expect(gauge(first, 'max')).toBeCloseTo(0.04, 3);
    expect(gauge(first, 'p99')).toBeCloseTo(0.04, 3);
    expect(gauge(first, 'mean')).toBeCloseTo(0.0215, 3);
    // Reset at each scrape: a scrape with no timer fired since shows zeros, not the empty histogram's 2^63 ns.
    const second = await m.registry.metrics();
    for (const name of ['min', 'max', 'mean', 'p50', 'p99']) expect(gauge(second, name), name).toBe(0);
  });

  it('counts histogram buckets cumulatively, escapes label values, and refuses what Prometheus could not take', async () => {
    const registry = new MetricsRegistry();
    const h = new Histogram({ name: 't_seconds', help: 'A test\nhistogram', buckets: [1, 0.1], registers: [registry] });
    h.observe(0.05);
    h.observe(0.5);
    h.observe(7);
    const g = new Gauge({ name: 't_gauge', help: 'A gauge', labelNames: ['path'], registers: [registry] });
    g.set({ path: 'a "quoted"\\path' }, 2);
    const c = new Counter({ name: 't_total', help: 'A counter', labelNames: ['kind'], registers: [registry] });
    const text = await registry.metrics();
    expect(text).toContain('# HELP t_seconds A test\\nhistogram\n');
    expect(text).toContain('t_seconds_bucket{le="0.1"} 1\nt_seconds_bucket{le="1"} 2\nt_seconds_bucket{le="+Inf"} 3\nt_seconds_sum 7.55\nt_seconds_count 3\n');
    expect(text).toContain('t_gauge{path="a \\"quoted\\"\\\\path"} 2');
    expect(text).toContain('# TYPE t_total counter\n');
    expect(text, 'a labelled counter shows no series before its first increment').not.toMatch(/^t_total/m);
    expect(() => c.inc({ kind: 'x' }, -1)).toThrow('a counter only goes up');
    expect(() => c.inc()).toThrow('labels kind are required');
    expect(() => new Counter({ name: 't_total', help: 'again', registers: [registry] })).toThrow('registered twice');
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
