import { startAllocationProfile, startCpuProfile } from './cpu-profile.js';
import { readBearerToken, type AgentConfig } from './config.js';
import { AdaptiveController } from './adaptive.js';
import { ProcessRates } from './bpf/rates.js';
import { buildProfiles, KeptDictionary, leafCounts } from './exporter-profiles.js';
import { Exporter } from './exporter.js';
import { OtlpRequestEncoder } from './exporter-otlp.js';
import type { OtlpEncoder } from './exporter-wire.js';
import { BpfProfiler } from './loader.js';
import { AgentMetrics, type MetricsServer } from './metrics.js';
import { startMetadata, type Metadata } from './metadata/index.js';
import { Sampler } from './sampler.js';
import { ProcSymbolizer } from './symbolize/symbolizer.js';
import { startUnwinding, type Unwinding } from './unwind/index.js';
import { PythonCodeReader } from './python/code.js';
import { PythonProcesses } from './python/process.js';
import { V8Processes } from './v8/process.js';
import { V8FrameReader } from './v8/reader.js';
import { JvmPerfMaps } from './jvm/perf-maps.js';
import type { ProcessLabeler, Symbolizer } from './types.js';
import { stageClock } from './process-cpu.js';
import { oneStatReadEach } from './symbolize/proc-maps.js';
import { spendDetachProtector } from './detach-protector.js';

/**
 * `kiln agent`: sample every CPU with eBPF, and every interval turn the counts into one profile per
 * process, symbolized and labelled, and push them to the server. stop() detaches from the kernel,
 * sends what was collected since the last interval, and waits (bounded) for the queue to drain.
 */

export interface AgentParts {
  readonly symbolizer?: Symbolizer;
  readonly labeler?: ProcessLabeler;
  readonly otlpEncoder?: OtlpEncoder;
  /** Where log lines go (default stderr). */
  readonly log?: (line: string) => void;
}

export interface RunningAgent {
  readonly metrics: AgentMetrics;
  /** Port of the /metrics server, or undefined when disabled. */
  readonly metricsPort: number | undefined;
  /** Resolves after the next interval has been collected and queued (tests and benchmarks wait on it). */
  nextInterval(): Promise<void>;
  /** With --adaptive: each process's effective sampling rate (Hz) in the last interval. */
  effectiveRate(pid: number): number;
  /** Detach, send the last partial interval, flush (up to `flushMs`), close. */
  stop(flushMs?: number): Promise<void>;
}

export async function startAgent(config: AgentConfig, parts: AgentParts = {}): Promise<RunningAgent> {
  // First, before anything is optimized: the first detached ArrayBuffer deoptimizes typed-array code (detach-protector.ts).
  spendDetachProtector();
  const log = parts.log ?? ((line: string) => process.stderr.write(`kiln agent: ${line}\n`));
  const metrics = new AgentMetrics();
  // CPython frames are named from code objects once the BPF side knows the interpreters (below).
  let pythonCode: PythonCodeReader | undefined;
  // So are node's JavaScript frames, from V8's SharedFunctionInfos (v8/reader.ts).
  let v8Code: V8FrameReader | undefined;
  // HotSpot JIT frames: a JVM whose JIT code is unnamed is asked to write its perf map (jvm/perf-maps.ts).
  const jvm = config.jvmPerfMap ? new JvmPerfMaps({ log }) : undefined;
  const symbolizer =
    parts.symbolizer ??
    new ProcSymbolizer({
      python: { frame: (pid, code, instr) => pythonCode?.frame(pid, code, instr) },
      v8: { frame: (pid, sfi) => v8Code?.frame(pid, sfi) },
      onUnnamedJit: jvm && ((pid, known) => jvm.unnamed(pid, known)) });
  // Read before the pod watch starts: an unreadable token file must stop startup with nothing running
  // (a started watch would keep the process alive after the error).
  const bearerToken = readBearerToken(config.bearerTokenFile);
  // Relabel rules compile here, so a bad rule stops startup (InputError) before anything is attached.
  const metadata: Metadata | undefined = parts.labeler ? undefined : startMetadata({ nodeName: config.nodeName, relabelConfigs: config.relabelConfigs, log });
  const labeler = parts.labeler ?? metadata!.labeler;
  const requestEncoder = new OtlpRequestEncoder();
  const otlpEncoder = parts.otlpEncoder ?? ((profiles) => requestEncoder.encode(profiles));
  const exporter = new Exporter(
    {
      server: config.server,
      protocol: config.protocol,
      frequencyHz: config.frequency,
      bearerToken,
      tenant: config.tenant,
      timeoutMs: config.timeoutMs,
      queue: { maxItems: config.queueSize, maxBytes: config.queueBytes, initialBackoffMs: 1000, maxBackoffMs: 30_000 },
      otlpEncoder,
    },
    exportEvents(metrics, log),
  );

  // Off-CPU time is sampled like CPU time: by default one walk per CPU-sampling period of time blocked.
  const offCpuPeriodNs = (config.offCpuPeriodMs ?? 1000 / config.frequency) * 1e6;
  let bpf: BpfProfiler;
  let metricsServer: MetricsServer | undefined;
  try {
    bpf = BpfProfiler.start({
      frequencyHz: config.frequency,
      stackMapSize: config.stackMapSize,
      countsMapSize: config.countsMapSize,
      unwindRows: config.unwindTableSize,
      unwind: config.unwindTables,
      offCpu: config.offCpu ? { minNs: config.offCpuMinMs * 1e6, periodNs: offCpuPeriodNs } : undefined,
      adaptive: config.adaptive,
    });
  } catch (e) {
    await metadata?.stop();
    throw e;
  }
  try {
    if (config.metricsPort >= 0) metricsServer = await metrics.serve(config.metricsPort, config.metricsHost);
  } catch (e) {
    bpf.close();
    await metadata?.stop();
    throw e;
  }
  // KILN_AGENT_CPU_PROFILE=file: a V8 CPU profile of the running agent, written at stop (node's
  // --cpu-prof cannot be used: its SIGPROF interrupts the BPF verifier until the load gives up).
  // KILN_AGENT_ALLOC_PROFILE=file: a sampling profile of everything it allocates (garbage included).
  // KILN_AGENT_CPU_PROFILE_DELAY=seconds starts them later (a steady-state profile, without the warm-up).
  const runningProfiles: (() => Promise<void>)[] = [];
  const profileStarts: [string | undefined, (path: string) => Promise<() => Promise<void>>][] = [
    // KILN_AGENT_CPU_PROFILE_INTERVAL_US: the CPU profile's sampling interval (V8's default 1000 µs).
    [process.env.KILN_AGENT_CPU_PROFILE, (to) => startCpuProfile(to, process.env.KILN_AGENT_CPU_PROFILE_INTERVAL_US ? Number(process.env.KILN_AGENT_CPU_PROFILE_INTERVAL_US) : undefined)],
    [process.env.KILN_AGENT_ALLOC_PROFILE, startAllocationProfile],
  ];
  const profileTimer = profileStarts.some(([to]) => to)
    ? setTimeout(() => {
        for (const [to, start] of profileStarts) if (to) void start(to).then((stop) => runningProfiles.push(stop));
      }, Number(process.env.KILN_AGENT_CPU_PROFILE_DELAY ?? 0) * 1000)
    : undefined;
  const sampler = new Sampler(bpf);
  const adaptive = config.adaptive
    ? new AdaptiveController({ budgetPerSecond: config.adaptiveBudget ?? (config.frequency * bpf.cpus.length) / 2 })
    : undefined;
  const rates = adaptive ? new ProcessRates(bpf.lib, bpf.mapFd('rates')) : undefined;
  // Native stacks without frame pointers: each running process's binaries get .eh_frame tables in BPF.
  // A process is labelled as soon as it is first seen, while /proc still answers for it, and one that
  // relabel rules drop gets no tables.
  // CPython processes are recognised as they load, and their frames read in BPF from the thread state.
  const python = new PythonProcesses();
  pythonCode = new PythonCodeReader(python);
  const v8 = config.v8Frames ? new V8Processes((pid) => v8Code?.forget(pid)) : undefined;
  if (v8) v8Code = new V8FrameReader(v8);
  const unwinding: Unwinding | undefined = config.unwindTables
    ? startUnwinding(bpf, {
        wanted: (pid) => labeler.labels(pid, '').length > 0,
        extensions: v8 ? [python, v8] : [python],
        onPoll: (cpuSeconds, lateMs) => {
          metrics.stageCpu.inc({ stage: 'unwind_tables' }, cpuSeconds);
          metrics.timerFired(lateMs);
        },
      })
    : undefined;
  log(`sampling ${bpf.cpus.length} CPUs at ${config.frequency} Hz${config.offCpu ? ' and off-CPU time' : ''}, pushing ${config.protocol} to ${config.server} every ${config.intervalMs / 1000}s` +
    (metricsServer ? `; metrics on :${metricsServer.port}/metrics` : ''));

  // Kept across intervals: a frame seen before is not resolved again (exporter-profiles.ts).
  const dictionary = new KeptDictionary();
  let windowStart = Date.now();
  let waiters: (() => void)[] = [];
  let busy: Promise<void> = Promise.resolve();
  let stopped = false;

  const collectOnce = async (): Promise<void> => {
    // The main thread's CPU of each stage, for kiln_agent_interval_cpu_seconds_total{stage}: where the
    // agent's time goes. Each stage ends where the next begins.
    const stage = stageClock((name, seconds) => metrics.stageCpu.inc({ stage: name }, seconds));
    const { samples, counterDeltas } = await sampler.collect();
    // V8 names read in earlier intervals are checked again before this one uses them.
    v8Code?.nextInterval();
    stage('read');
    const t0 = performance.now();
    const window = { startMs: windowStart, endMs: Date.now() };
    windowStart = window.endMs;
    metrics.recordBpf(counterDeltas);
    let recorded = 0;
    for (const s of samples) if (s.kind === 'cpu') recorded += s.count;
    metrics.samples.inc(recorded);
    // Labels and symbolizer snapshots check each sampled process's start time; for the processes the
    // unwinder follows, whose exits and execs the BPF program reports (drained first), it is known.
    try {
      unwinding?.tables.drainEvents();
    } catch {
      // a failed map read: the next poll drains them (until then exits are heard of ≤ one poll later)
    }
    const built = oneStatReadEach(
      () =>
        buildProfiles(samples, window, symbolizer, labeler, {
          frequencyHz: config.frequency,
          shareDictionary: true,
          keptDictionary: dictionary,
          offCpuPeriodNs,
          keptShare: adaptive ? (pid) => adaptive.keepDuring(pid, window.startMs, window.endMs) : undefined,
        }),
      unwinding && ((pid) => unwinding.tables.liveStartTime(pid)),
    );
    // JVMs with unnamed JIT code write their maps just before the next interval is read.
    jvm?.intervalEnds(window.endMs + config.intervalMs);
    stage('symbolize_label');
    if (adaptive && rates) {
      // Leaf counts are the samples the kernel kept (values ÷ the effective period).
      const observed = [...built.cpuProfiles].map(([pid, p]) => {
        const leaves = leafCounts(p);
        let kept = 0;
        for (const v of leaves.values()) kept += v;
        return { pid, kept, leaves };
      });
      const changes = adaptive.update(observed, (window.endMs - window.startMs) / 1000);
      rates.apply(changes);
      adaptive.applied(changes, Date.now());
    }
    metrics.relabelDropped.inc(built.droppedSamples);
    if (unwinding) for (const pid of built.keptPids) unwinding.tables.keep(pid);
    metrics.processes.set(built.profiles.length);
    metrics.recordSymbolizer({ ...symbolizer.stats(), ...jvm?.stats(), ...v8Code?.stats(), ...dictionary.stats() });
    if (unwinding) metrics.recordUnwindTables(unwinding.stats());
    exporter.submit(built.profiles, window);
    stage('encode');
    metrics.queueLength.set(exporter.queued);
    metrics.queueBytes.set(exporter.queuedBytes);
    metrics.intervalDuration.observe((performance.now() - t0) / 1000);
  };
  let tickDueAt = performance.now() + config.intervalMs;
  const tick = () => {
    // The event loop's delay, from this timer (and the unwinder's) instead of a monitor waking the agent.
    metrics.timerFired(performance.now() - tickDueAt);
    tickDueAt = performance.now() + config.intervalMs;
    // Intervals never overlap: a slow collect delays the next one instead of racing it.
    busy = busy
      .then(collectOnce)
      .catch((e: Error) => log(`interval failed: ${e.message}`))
      .finally(() => {
        for (const w of waiters.splice(0)) w();
      });
  };
  const timer = setInterval(tick, config.intervalMs);

  return {
    metrics,
    metricsPort: metricsServer?.port,
    nextInterval: () => new Promise<void>((resolve) => waiters.push(resolve)),
    effectiveRate: (pid) => config.frequency * (adaptive?.keepOf(pid) ?? 1),
    async stop(flushMs = 5000) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await busy;
      try {
        await collectOnce();
      } catch (e) {
        log(`last interval failed: ${(e as Error).message}`);
      }
      unwinding?.stop();
      clearTimeout(profileTimer);
      for (const stop of runningProfiles) await stop();
      bpf.close();
      const delivered = await exporter.flush(flushMs);
      if (!delivered) log(`${exporter.queued} request(s) not delivered before exit`);
      exporter.close();
      await metadata?.stop();
      await metricsServer?.close();
      waiters.forEach((w) => w());
      waiters = [];
    },
  };
}

function exportEvents(metrics: AgentMetrics, log: (line: string) => void) {
  let lastError = '';
  return {
    sendCpu(seconds: number) {
      metrics.stageCpu.inc({ stage: 'send' }, seconds);
    },
    sent(req: { profiles: number }, ms: number) {
      metrics.exportDuration.observe(ms / 1000);
      metrics.exportedProfiles.inc(req.profiles);
      if (lastError) log('server reachable again, sending queued profiles');
      lastError = '';
    },
    failed(_req: unknown, error: string, willRetry: boolean) {
      metrics.exportErrors.inc({ kind: willRetry ? 'retry' : 'rejected' });
      // One line per change of error, not one per retry.
      if (error !== lastError) log(`export ${willRetry ? 'failed, will retry' : 'rejected'}: ${error}`);
      lastError = error;
    },
    dropped(req: { profiles: number }) {
      metrics.queueDropped.inc(req.profiles);
    },
  };
}
