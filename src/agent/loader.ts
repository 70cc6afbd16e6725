import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { libbpf, type Libbpf, type Ptr } from './bpf/libbpf.js';
import { cpuClockAttr, onlineCpus, PERF_FLAG_FD_CLOEXEC } from './bpf/perf-event.js';

/**
 * Opens, sizes, loads and attaches the committed BPF object (src/agent/bpf/profile.bpf.o) through
 * libbpf, one perf event per online CPU, and detaches cleanly. Everything that can go wrong here is
 * the host's setup, so every failure says which capability, package or kernel feature is missing.
 */

/**
 * The committed object beside this module (running from src/), or — when running the compiled
 * dist/agent/loader.js, which tsc does not copy it next to — in the checkout's src/agent/bpf/.
 */
export const DEFAULT_OBJECT = [new URL('./bpf/profile.bpf.o', import.meta.url), new URL('../../src/agent/bpf/profile.bpf.o', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./bpf/profile.bpf.o', import.meta.url));

/** Names of the BPF program's counters, index-aligned with its `counters` array map (kiln.h, C_*). */
export const BPF_COUNTERS = [
  'samples',
  'idle',
  'counts_full',
  'stacks_full',
  'stack_error',
  'user_walks',
  'unwind_complete',
  'unwind_truncated',
  'unwind_read_error',
  'unwind_bad_pc',
  'unwind_unsupported',
  'unwind_no_tables',
  'fp_frames',
  'python_frames',
  'python_error',
  'off_cpu_events',
  'off_cpu_kept',
  'adaptive_skipped',
  'off_cpu_not_syscall',
] as const;
export type BpfCounterName = (typeof BPF_COUNTERS)[number];
export type BpfCounters = Record<BpfCounterName, number>;

/** Layout of the BPF program's `struct sample_key` and stack keys (content hashes) (kiln.h). */
export const KEY_SIZE = 40;
export const STACK_KEY_SIZE = 8;
export const STACK_DEPTH = 127;
/**
 * Stacks by size class (kiln.h, STACK_CLASS): a class of `words` 8-byte words holds a stack of fewer than
 * `words` frames as its frame count then its frames. Per generation, map `counts<words>_<g>` (a count
 * word, then the user stack of that class) and map `stacks<words>_<g>` (kernel stacks of that class).
 */
export const STACK_CLASSES = [32, 128] as const;

/** Indices of the `settings` array map (kiln.h, SET_*). */
const SETTING = { flags: 0, offCpuMinNs: 1, offCpuPeriodNs: 2, adaptiveDefault: 3 } as const;
const SETF_UNWIND = 1n;
const SETF_ADAPTIVE = 2n;

export interface OffCpuOptions {
  /** Blocks shorter than this are not recorded. */
  readonly minNs: number;
  /** Blocks shorter than this are kept with probability length/period, weighted one period. */
  readonly periodNs: number;
}

export interface LoaderOptions {
  /** Sampling frequency per CPU, Hz. */
  readonly frequencyHz: number;
  /** Entries of each kernel stacks map (one per generation and size class): distinct kernel stacks per interval. */
  readonly stackMapSize: number;
  /** Entries of each counts map (one per generation and size class): distinct {pid, stacks, comm} per interval. */
  readonly countsMapSize: number;
  readonly objectPath?: string;
  /** CPUs to sample; default every online CPU. */
  readonly cpus?: readonly number[];
  /** Rows of the shared unwind table (8 bytes each, kernel memory); default 2^21. */
  readonly unwindRows?: number;
  /** Walk native stacks with the tables the agent loads (default true); false: frame pointers only. */
  readonly unwind?: boolean;
  /** Off-CPU profiling (sched_switch); undefined: its programs are not even loaded. */
  readonly offCpu?: OffCpuOptions;
  /** Adaptive sampling: the BPF program keeps each process's samples with the probability in `rates`. */
  readonly adaptive?: boolean;
}

/** One generation's map of one size class. */
export interface StackMap {
  readonly fd: number;
  /** 8-byte words per stack: the frame count, then up to words − 1 frames (a count's value: one word more, the count first). */
  readonly words: number;
}

export interface GenerationMaps {
  /** Keyed by struct sample_key; each value its count, then its user stack. */
  readonly counts: readonly StackMap[];
  /** Kernel stacks by hash (a key's kernel_stack). */
  readonly stacks: readonly StackMap[];
}

const EPERM = 1;
const EAGAIN = 11;
const ENOENT = 2;
const EACCES = 13;
const EINVAL = 22;
const ENODEV = 19;
const EOPNOTSUPP = 95;

// Capability bits (include/uapi/linux/capability.h).
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** Which capabilities the agent lacks for loading BPF and opening perf events (empty when fine). */
export function missingCapabilities(status = readFileSync('/proc/self/status', 'utf8')): string[] {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return [];
  const eff = BigInt(`0x${m[1]}`);
  const has = (bit: number) => (eff & (1n << BigInt(bit))) !== 0n;
  if (has(CAP_SYS_ADMIN)) return [];
  const missing: string[] = [];
  if (!has(CAP_BPF)) missing.push('CAP_BPF');
  if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  return missing;
}

function errnoText(n: number): string {
  const names: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE', 95: 'EOPNOTSUPP' };
  return names[n] ?? `errno ${n}`;
}

export class BpfProfiler {
  private readonly bpf: Libbpf;
  private readonly obj: Ptr;
  private readonly links: Ptr[] = [];
  private readonly configFd: number;
  private readonly countersFd: number;
  private readonly counterKey = Buffer.alloc(4);
  private counterValue = Buffer.alloc(0);
  readonly generations: readonly [GenerationMaps, GenerationMaps];
  readonly cpus: readonly number[];
  /** Rows of the unwind table array (as sized at load). */
  unwindRows = DEFAULT_UNWIND_ROWS;
  private gen = 0;
  private closed = false;

  private constructor(bpf: Libbpf, obj: Ptr, cpus: readonly number[]) {
    this.bpf = bpf;
    this.obj = obj;
    this.cpus = cpus;
    const fd = (name: string) => this.mapFd(name);
    this.configFd = fd('config');
    this.countersFd = fd('counters');
    const generation = (g: 0 | 1): GenerationMaps => ({
      counts: STACK_CLASSES.map((words) => ({ fd: fd(`counts${words}_${g}`), words })),
      stacks: STACK_CLASSES.map((words) => ({ fd: fd(`stacks${words}_${g}`), words })),
    });
    this.generations = [generation(0), generation(1)];
  }

  /** Loads the program and starts sampling on every CPU; throws an Error naming what is missing. */
  static start(opts: LoaderOptions): BpfProfiler {
    const path = opts.objectPath ?? DEFAULT_OBJECT;
    if (!existsSync(path)) throw new Error(`BPF object ${path} is missing — run \`npm run build:bpf\` in the checkout`);
    const missing = missingCapabilities();
    if (missing.length > 0) {
      throw new Error(`profiling needs root or ${missing.join(' + ')} (also CAP_SYS_PTRACE to read other processes' memory maps); run it with sudo or grant the capabilities`);
    }
    const bpf = libbpf();
    const cpus = opts.cpus ?? onlineCpus();
    const obj = loadObject(bpf, path, opts);
    const profiler = new BpfProfiler(bpf, obj, cpus);
    profiler.unwindRows = opts.unwindRows ?? DEFAULT_UNWIND_ROWS;
    try {
      profiler.writeSettings(opts);
      profiler.attachTracepoint('kiln_exec');
      profiler.attachTracepoint('kiln_exit');
      if (opts.offCpu) {
        profiler.attachTracepoint('kiln_switch');
        profiler.attachTracepoint('kiln_sys_exit');
      }
      profiler.attach(opts.frequencyHz);
    } catch (e) {
      profiler.close();
      throw e;
    }
    return profiler;
  }

  /** File descriptor of one of the object's maps (the unwind tables, process lists, rates). */
  mapFd(name: string): number {
    return this.bpf.mapFd(this.map(name));
  }

  private writeSettings(opts: LoaderOptions): void {
    const flags = (opts.unwind === false ? 0n : SETF_UNWIND) | (opts.adaptive ? SETF_ADAPTIVE : 0n);
    this.setSetting(SETTING.flags, flags);
    if (opts.offCpu) {
      this.setSetting(SETTING.offCpuMinNs, BigInt(Math.round(opts.offCpu.minNs)));
      this.setSetting(SETTING.offCpuPeriodNs, BigInt(Math.max(1, Math.round(opts.offCpu.periodNs))));
    }
    // Until the agent sets a process's own rate, adaptive sampling keeps every sample.
    this.setSetting(SETTING.adaptiveDefault, 1n << 32n);
  }

  private setSetting(index: number, value: bigint): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(value);
    const rc = this.bpf.mapUpdateElem(this.mapFd('settings'), key, v, 0);
    if (rc < 0) throw new Error(`writing BPF setting ${index} failed: ${errnoText(-rc)}`);
  }

  private program(name: string): Ptr {
    const prog = this.bpf.findProgram(this.obj, name);
    if (prog === null) throw new Error(`BPF object has no program "${name}": rebuild it with \`npm run build:bpf\``);
    return prog;
  }

  private attachTracepoint(name: string): void {
    const link = this.bpf.attach(this.program(name));
    if (link === null) throw new Error(`attaching BPF program ${name} failed: ${errnoText(this.bpf.errno())} (needs a kernel with BTF, /sys/kernel/btf/vmlinux)`);
    this.links.push(link);
  }

  private map(name: string): Ptr {
    const m = this.bpf.findMap(this.obj, name);
    if (m === null) throw new Error(`BPF object has no map "${name}": rebuild it with \`npm run build:bpf\``);
    return m;
  }

  private attach(frequencyHz: number): void {
    const prog = this.program('kiln_sample');
    const attr = cpuClockAttr(frequencyHz);
    for (const cpu of this.cpus) {
      const pfd = this.bpf.perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
      if (pfd < 0) throw perfError(this.bpf.errno(), cpu);
      const link = this.bpf.attachPerfEvent(prog, pfd);
      if (link === null) {
        const err = this.bpf.errno();
        this.bpf.close(pfd);
        throw new Error(`attaching the BPF program to the perf event of CPU ${cpu} failed: ${errnoText(err)}`);
      }
      // The link owns the perf fd from here: bpf_link__destroy closes it (closing it again would be a bug).
      this.links.push(link);
    }
  }

  /** The generation the BPF program is writing. */
  get generation(): number {
    return this.gen;
  }

  /** Points the BPF program at generation `g` (0 or 1). */
  setGeneration(g: 0 | 1): void {
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(g);
    const rc = this.bpf.mapUpdateElem(this.configFd, key, value, 0);
    if (rc < 0) throw new Error(`switching BPF map generation failed: ${errnoText(-rc)}`);
    this.gen = g;
  }

  /** The BPF counters, each summed over CPUs (the `counters` map is per CPU). */
  counters(): BpfCounters {
    const out = {} as BpfCounters;
    const cpus = this.bpf.possibleCpus();
    if (cpus < 1) throw new Error(`libbpf could not count the possible CPUs: ${errnoText(-cpus)}`);
    // Read each interval: the same buffers every time, and the sums as numbers (a count of samples,
    // exact below 2^53) rather than BigInts per CPU.
    if (this.counterValue.length !== 8 * cpus) this.counterValue = Buffer.alloc(8 * cpus);
    const { counterKey: key, counterValue: value } = this;
    BPF_COUNTERS.forEach((name, i) => {
      key.writeUInt32LE(i);
      let sum = 0;
      if (this.bpf.mapLookupElem(this.countersFd, key, value) === 0) for (let c = 0; c < cpus; c++) sum += value.readUInt32LE(c * 8) + value.readUInt32LE(c * 8 + 4) * 0x1_0000_0000;
      out[name] = sum;
    });
    return out;
  }

  /** Map primitives for the sampler. */
  get lib(): Libbpf {
    return this.bpf;
  }

  /** Detaches from every CPU and frees the maps. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.splice(0)) this.bpf.linkDestroy(link);
    this.bpf.objectClose(this.obj);
  }
}

/**
 * Opens, sizes and loads the object. The verifier gives up with EAGAIN when a signal arrives while it
 * works (and libbpf's own retries can all be hit on a busy host); a loaded-or-failed object cannot be
 * loaded again, so each retry starts from a fresh open.
 */
function loadObject(bpf: Libbpf, path: string, opts: LoaderOptions): Ptr {
  for (let attempt = 1; ; attempt++) {
    const obj = bpf.objectOpenFile(path);
    if (obj === null) throw new Error(`libbpf could not open ${path}: ${errnoText(bpf.errno())}`);
    let rc: number;
    try {
      // Each size class may hold every count or stack of an interval (none is preallocated, kiln.h).
      for (const words of STACK_CLASSES) {
        for (const g of [0, 1]) {
          setMapSize(bpf, obj, `counts${words}_${g}`, opts.countsMapSize);
          setMapSize(bpf, obj, `stacks${words}_${g}`, opts.stackMapSize);
        }
      }
      setMapSize(bpf, obj, 'unwind_rows', opts.unwindRows ?? DEFAULT_UNWIND_ROWS);
      // Off-CPU programs are loaded only when asked for: off by default, and then they cost nothing.
      for (const name of ['kiln_switch', 'kiln_sys_exit']) {
        const prog = bpf.findProgram(obj, name);
        if (prog === null) throw new Error(`BPF object has no program "${name}": rebuild it with \`npm run build:bpf\``);
        bpf.setAutoload(prog, opts.offCpu !== undefined);
      }
      rc = bpf.objectLoad(obj);
    } catch (e) {
      bpf.objectClose(obj);
      throw e;
    }
    if (rc >= 0) return obj;
    bpf.objectClose(obj);
    if (-rc !== EAGAIN || attempt >= LOAD_ATTEMPTS) throw loadError(-rc);
  }
}

/**
 * Verifying the walker takes ≈ 0.13 s of kernel time (bpftool, every program of the object, measured on
 * the test host) — room enough for a signal now and then; each retry starts over.
 */
const LOAD_ATTEMPTS = 10;

/** 2^21 rows × 8 bytes = 16 MiB of kernel memory for the unwind tables of every binary in use. */
export const DEFAULT_UNWIND_ROWS = 1 << 21;

/** Map sizes can only change between open and load. */
function setMapSize(bpf: Libbpf, obj: Ptr, name: string, n: number): void {
  const m = bpf.findMap(obj, name);
  if (m === null) throw new Error(`BPF object has no map "${name}": rebuild it with \`npm run build:bpf\``);
  const rc = bpf.mapSetMaxEntries(m, n);
  if (rc < 0) throw new Error(`cannot size BPF map ${name} to ${n}: ${errnoText(-rc)}`);
}

function loadError(err: number): Error {
  if (err === EPERM || err === EACCES) {
    return new Error(
      `the kernel refused to load the BPF program (${errnoText(err)}): run as root or with CAP_BPF + CAP_PERFMON; ` +
        'check kernel.unprivileged_bpf_disabled, the locked-memory limit (ulimit -l) and any LSM policy',
    );
  }
  if (err === EINVAL || err === EOPNOTSUPP) {
    return new Error(
      `the kernel rejected the BPF program (${errnoText(err)}): Kiln needs Linux ≥ 6.1 (perf-event programs using ` +
        'non-preallocated hash maps) with BPF enabled (CONFIG_BPF_SYSCALL); libbpf printed the verifier log above',
    );
  }
  return new Error(`loading the BPF program failed: ${errnoText(err)} (libbpf printed details above)`);
}

function perfError(err: number, cpu: number): Error {
  if (err === EPERM || err === EACCES) {
    return new Error(
      `perf_event_open on CPU ${cpu} was refused (${errnoText(err)}): needs root or CAP_PERFMON ` +
        '(or kernel.perf_event_paranoid ≤ -1 with CAP_SYS_ADMIN); containers need the seccomp profile to allow perf_event_open',
    );
  }
  if (err === ENOENT || err === ENODEV || err === EOPNOTSUPP) {
    return new Error(`this kernel has no CPU clock perf event on CPU ${cpu} (${errnoText(err)}): perf events are needed (CONFIG_PERF_EVENTS)`);
  }
  return new Error(`perf_event_open on CPU ${cpu} failed: ${errnoText(err)}`);
}
