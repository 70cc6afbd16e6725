import { readdirSync } from 'node:fs';
import { readProcText } from './symbolize/proc-maps.js';
import { constants as perfConstants, createHistogram, PerformanceObserver, type RecordableHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import { Counter, Gauge, Histogram, type MetricsRegistry } from './metrics-registry.js';

/**
 * The process and Node.js runtime series the agent showed through prom-client's default metrics —
 * same names (behind `prefix`), HELP, types and labels — so dashboards and the benches that read
 * e.g. `kiln_agent_process_resident_memory_bytes` or `kiln_agent_nodejs_heap_size_used_bytes` keep
 * working. Values are read when /metrics is scraped; between scrapes only the GC observer runs, and the
 * event-loop delay is what the caller reports of its own timers (see RuntimeMetrics.timerFired).
 */
export interface RuntimeMetrics {
  /** A timer of the process's own fired `lateMs` after it was due: one sample of the event loop's delay. */
  timerFired(lateMs: number): void;
}

export function registerRuntimeMetrics(registry: MetricsRegistry, prefix: string): RuntimeMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, collect?: () => void) => new Gauge({ name: prefix + name, help, registers, collect });

  // CPU: counters fed by the growth of process.cpuUsage() since the last scrape.
  let lastCpu = { user: 0, system: 0 };
  const cpuUser = new Counter({ name: `${prefix}process_cpu_user_seconds_total`, help: 'Total user CPU time spent in seconds.', registers, collect: readCpu });
  const cpuSystem = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers });
  const cpuTotal = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers });
  function readCpu() {
    const now = process.cpuUsage();
    const user = (now.user - lastCpu.user) / 1e6;
    const system = (now.system - lastCpu.system) / 1e6;
    lastCpu = now;
    cpuUser.inc(user);
    cpuSystem.inc(system);
    cpuTotal.inc(user + system);
  }

  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  const start = gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => start.set(startTime));

  const status = { VmRSS: 0, VmSize: 0, VmData: 0 };
  const resident = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => {
    readVmStatus(status);
    resident.set(status.VmRSS);
  });
  const virtual = gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', () => virtual.set(status.VmSize));
  const heap = gauge('process_heap_bytes', 'Process heap size in bytes.', () => heap.set(status.VmData));
  const openFds = gauge('process_open_fds', 'Number of open file descriptors.', () => {
    // The directory listing holds one descriptor of its own while it reads.
    openFds.set(readdirSync('/proc/self/fd').length - 1);
  });
  const maxFdsValue = maxOpenFiles();
  if (maxFdsValue !== undefined) {
    const maxFds = gauge('process_max_fds', 'Maximum number of open file descriptors.', () => maxFds.set(maxFdsValue));
  }

  const loopDelay = registerEventLoopLag(gauge);
  registerActiveCounts(registry, prefix);

  const total = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', () => {
    const m = process.memoryUsage();
    total.set(m.heapTotal);
    used.set(m.heapUsed);
    external.set(m.external);
  });
  const used = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.');
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');

  const space = (kind: string, help: string) => new Gauge<'space'>({ name: `${prefix}nodejs_heap_space_size_${kind}_bytes`, help, labelNames: ['space'], registers });
  const spaceTotal = new Gauge<'space'>({
    name: `${prefix}nodejs_heap_space_size_total_bytes`,
    help: 'Process heap space size total from Node.js in bytes.',
    labelNames: ['space'],
    registers,
    collect: () => {
      for (const s of v8.getHeapSpaceStatistics()) {
        const name = s.space_name.replace(/_space$/, '');
        spaceTotal.set({ space: name }, s.space_size);
        spaceUsed.set({ space: name }, s.space_used_size);
        spaceAvailable.set({ space: name }, s.space_available_size);
      }
    },
  });
  const spaceUsed = space('used', 'Process heap space size used from Node.js in bytes.');
  const spaceAvailable = space('available', 'Process heap space size available from Node.js in bytes.');

  const [major, minor, patch] = process.versions.node.split('.');
  const version = new Gauge<'version' | 'major' | 'minor' | 'patch'>({ name: `${prefix}nodejs_version_info`, help: 'Node.js version info.', labelNames: ['version', 'major', 'minor', 'patch'], registers });
  version.set({ version: process.version, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, 1);

  registerGcDurations(registry, prefix);
  return { timerFired: (lateMs) => loopDelay.record(Math.max(1, Math.round(lateMs * 1e6))) };
}

type GaugeMaker = (name: string, help: string, collect?: () => void) => Gauge;

/**
 * The event loop's delay: one probe per scrape (how long a setImmediate waits, reported at the next
 * scrape) plus a histogram of how late the process's own timers fired, reset at each scrape. node's
 * monitorEventLoopDelay would sample with a timer of its own: one more wake-up of the agent per
 * resolution period (at 1 s, about 0.02 % of a core on the test host; at its default 10 ms, 0.25 %),
 * where the agent's interval and unwinder timers already measure the same delay for free.
 */
function registerEventLoopLag(gauge: GaugeMaker): RecordableHistogram {
  const delays = createHistogram();
  const lag = gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', () => {
    const t0 = process.hrtime.bigint();
    setImmediate(() => lag.set(Number(process.hrtime.bigint() - t0) / 1e9));
    // No timer fired since the last scrape: the histogram is empty (its min reads as 2^63).
    const seen = delays.count > 0;
    min.set(seen ? delays.min / 1e9 : 0);
    max.set(seen ? delays.max / 1e9 : 0);
    mean.set(seen ? delays.mean / 1e9 : 0);
    stddev.set(seen ? delays.stddev / 1e9 : 0);
    p50.set(seen ? delays.percentile(50) / 1e9 : 0);
    p90.set(seen ? delays.percentile(90) / 1e9 : 0);
    p99.set(seen ? delays.percentile(99) / 1e9 : 0);
    delays.reset();
  });
  const min = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.');
  const max = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.');
  const mean = gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.');
  const stddev = gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.');
  const p50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.');
  const p90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.');
  const p99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.');
  return delays;
}

/** libuv's handles and requests (node's undocumented listings) and async resources, by type and in all. */
function registerActiveCounts(registry: MetricsRegistry, prefix: string): void {
  const internals = process as unknown as { _getActiveHandles?: () => object[]; _getActiveRequests?: () => object[] };
  const listings: [string, string, string, (() => string[]) | undefined][] = [
    ['resources', 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.', 'Total number of active resources.', () => process.getActiveResourcesInfo()],
    ['handles', 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.', 'Total number of active handles.', internals._getActiveHandles && (() => internals._getActiveHandles!().map(typeName))],
    ['requests', 'Number of active libuv requests grouped by request type. Every request type is C++ class name.', 'Total number of active requests.', internals._getActiveRequests && (() => internals._getActiveRequests!().map(typeName))],
  ];
  for (const [what, help, totalHelp, list] of listings) {
    if (!list) continue;
    let types: string[] = [];
    const byType = new Gauge<'type'>({
      name: `${prefix}nodejs_active_${what}`,
      help,
      labelNames: ['type'],
      registers: [registry],
      collect: () => {
        types = list();
        byType.reset();
        const counts = new Map<string, number>();
        for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
        for (const [type, n] of counts) byType.set({ type }, n);
      },
    });
    const total: Gauge = new Gauge({ name: `${prefix}nodejs_active_${what}_total`, help: totalHelp, registers: [registry], collect: () => total.set(types.length) });
  }
}

function typeName(o: object): string {
  return o.constructor?.name ?? 'unknown';
}

/** GC pauses by kind, from V8's GC performance entries. */
function registerGcDurations(registry: MetricsRegistry, prefix: string): void {
  const kinds = new Map<number, string>([
    [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
    [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
    [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
    [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
  ]);
  const durations = new Histogram<'kind'>({
    name: `${prefix}nodejs_gc_duration_seconds`,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds.get((e as { detail?: { kind?: number } }).detail?.kind ?? -1);
      if (kind) durations.observe({ kind }, e.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
}

/** VmRSS, VmSize and VmData of /proc/self/status, in bytes. */
function readVmStatus(into: { VmRSS: number; VmSize: number; VmData: number }): void {
  // Into the agent's reused /proc buffer: read at every scrape.
  const text = readProcText('/proc/self/status');
  if (text === undefined) return;
  for (const key of ['VmRSS', 'VmSize', 'VmData'] as const) {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (m) into[key] = Number(m[1]) * 1024;
  }
}

/** The soft limit on open files from /proc/self/limits, or undefined when unlimited or unreadable. */
function maxOpenFiles(): number | undefined {
  const m = /^Max open files\s+(\d+)/m.exec(readProcText('/proc/self/limits') ?? '');
  return m ? Number(m[1]) : undefined;
}
