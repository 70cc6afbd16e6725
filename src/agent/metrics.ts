import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BpfCounters } from './loader.js';
import { Counter, Gauge, Histogram, MetricsRegistry } from './metrics-registry.js';
import { registerRuntimeMetrics, type RuntimeMetrics } from './metrics-runtime.js';
import type { SymbolizerStats } from './types.js';

/**
 * The agent's own health, on its own port (`--metrics-port`), for Prometheus: what the BPF program
 * saw and lost, how well frames symbolize, and whether profiles reach the server.
 */
export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  readonly bpfSamples = new Counter({ name: 'kiln_agent_bpf_samples_total', help: 'Perf samples the BPF program ran for (all CPUs, idle included)', registers: [this.registry] });
  readonly bpfDrops = new Counter({
    name: 'kiln_agent_bpf_dropped_samples_total',
    help: 'Samples the BPF program could not record, by reason (counts_full: raise --counts-map-size; stacks_full: raise --stack-map-size; stack_error: kernel allocation failures and other errors)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly unwindWalks = new Counter({
    name: 'kiln_agent_unwind_stacks_total',
    help: 'User stacks walked in BPF, by how the walk ended (complete: reached the outermost frame; the rest are failures: truncated past 127 frames, read_error, bad_pc, unsupported DWARF rule, no_tables: process not loaded yet, frame pointers only)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly unwindFrames = new Counter({
    name: 'kiln_agent_unwind_frames_total',
    help: 'Frames walked in BPF by frame pointer (JIT code, code without unwind info) and CPython frames read',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly pythonErrors = new Counter({ name: 'kiln_agent_python_read_errors_total', help: 'CPython thread states or frames the BPF program could not read', registers: [this.registry] });
  readonly offCpuBlocks = new Counter({
    name: 'kiln_agent_off_cpu_blocks_total',
    help: 'Blocks in syscalls at least --off-cpu-min long (seen), those recorded after duration-weighted sampling (kept), and blocks outside any syscall, not attributed (not_syscall)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly adaptiveSkipped = new Counter({ name: 'kiln_agent_adaptive_skipped_samples_total', help: 'CPU samples skipped by --adaptive (their processes were stable)', registers: [this.registry] });
  readonly unwindTables = new Gauge({
    name: 'kiln_agent_unwind_tables',
    help: 'Unwind tables in BPF: binaries, rows used and capacity, tables left out because the table was full, processes loaded, proc_maps entries, loads and their total time (ms)',
    labelNames: ['stat'],
    registers: [this.registry],
  });
  readonly stageCpu = new Counter({
    name: 'kiln_agent_interval_cpu_seconds_total',
    help: 'CPU (user + sys) of the agent\'s main thread per stage: read (BPF maps), symbolize_label, encode, send (writing a request and taking its answer), unwind_tables (loading processes and tables); V8\'s GC and compiler threads are not in it',
    labelNames: ['stage'],
    registers: [this.registry],
  });
  readonly samples = new Counter({ name: 'kiln_agent_samples_total', help: 'Stack samples read from the kernel (idle excluded)', registers: [this.registry] });
  readonly relabelDropped = new Counter({ name: 'kiln_agent_relabel_dropped_samples_total', help: 'Samples of processes dropped by relabel rules', registers: [this.registry] });
  readonly processes = new Gauge({ name: 'kiln_agent_profiled_processes', help: 'Processes with samples in the last interval', registers: [this.registry] });
  readonly symbolFrames = new Gauge({ name: 'kiln_agent_symbolize_frames', help: 'Frames the symbolizer was asked for since start', registers: [this.registry] });
  readonly symbolHitRate = new Gauge({ name: 'kiln_agent_symbolize_hit_ratio', help: 'Share of frames that got a function name since start (0..1)', registers: [this.registry] });
  readonly symbolizerStat = new Gauge({ name: 'kiln_agent_symbolizer_stat', help: 'Symbolizer internals (cache sizes, misses), by name', labelNames: ['stat'], registers: [this.registry] });
  readonly intervalDuration = new Histogram({
    name: 'kiln_agent_interval_duration_seconds',
    help: 'Time to read, symbolize, label and queue one interval (the agent\'s own CPU cost per interval)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly exportDuration = new Histogram({
    name: 'kiln_agent_export_duration_seconds',
    help: 'Time to deliver one request to the server',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly exportedProfiles = new Counter({ name: 'kiln_agent_exported_profiles_total', help: 'Profiles delivered to the server', registers: [this.registry] });
  readonly exportErrors = new Counter({
    name: 'kiln_agent_export_errors_total',
    help: 'Failed deliveries (retry: will be retried; rejected: the server refused the payload, dropped)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly queueDropped = new Counter({ name: 'kiln_agent_export_queue_dropped_profiles_total', help: 'Profiles dropped because the send queue was full (oldest first)', registers: [this.registry] });
  readonly queueLength = new Gauge({ name: 'kiln_agent_export_queue_requests', help: 'Requests waiting to be sent', registers: [this.registry] });
  readonly queueBytes = new Gauge({ name: 'kiln_agent_export_queue_bytes', help: 'Bytes waiting to be sent', registers: [this.registry] });

  private readonly runtime: RuntimeMetrics = registerRuntimeMetrics(this.registry, 'kiln_agent_');

  /** One of the agent's timers fired `lateMs` after it was due (the event loop's delay, without a timer of its own). */
  timerFired(lateMs: number): void {
    this.runtime.timerFired(lateMs);
  }

  recordBpf(deltas: BpfCounters): void {
    this.bpfSamples.inc(deltas.samples);
    for (const reason of ['counts_full', 'stacks_full', 'stack_error'] as const) {
      this.bpfDrops.inc({ reason }, deltas[reason]);
    }
    const results = { complete: 'unwind_complete', truncated: 'unwind_truncated', read_error: 'unwind_read_error', bad_pc: 'unwind_bad_pc', unsupported: 'unwind_unsupported', no_tables: 'unwind_no_tables' } as const;
    for (const [result, name] of Object.entries(results)) this.unwindWalks.inc({ result }, deltas[name]);
    this.unwindFrames.inc({ kind: 'frame_pointer' }, deltas.fp_frames);
    this.unwindFrames.inc({ kind: 'python' }, deltas.python_frames);
    this.pythonErrors.inc(deltas.python_error);
    this.offCpuBlocks.inc({ outcome: 'seen' }, deltas.off_cpu_events);
    this.offCpuBlocks.inc({ outcome: 'kept' }, deltas.off_cpu_kept);
    this.offCpuBlocks.inc({ outcome: 'not_syscall' }, deltas.off_cpu_not_syscall);
    this.adaptiveSkipped.inc(deltas.adaptive_skipped);
  }

  recordSymbolizer(stats: SymbolizerStats): void {
    this.symbolFrames.set(stats.frames);
    this.symbolHitRate.set(stats.frames > 0 ? stats.symbolized / stats.frames : 0);
    for (const [stat, v] of Object.entries(stats)) {
      if (stat !== 'frames' && stat !== 'symbolized' && Number.isFinite(v)) this.symbolizerStat.set({ stat }, v);
    }
  }

  recordUnwindTables(stats: object): void {
    for (const [stat, v] of Object.entries(stats)) if (typeof v === 'number' && Number.isFinite(v)) this.unwindTables.set({ stat }, v);
  }

  /** Serves /metrics on `port` (0 = any free port); resolves with the port bound. */
  async serve(port: number, host = '0.0.0.0'): Promise<MetricsServer> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('kiln agent: only GET /metrics here\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `--metrics-port ${port} is already in use; pick another (0 = any free port)` : e.message)),
      );
      server.listen(port, host, resolve);
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}
