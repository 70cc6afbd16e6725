import { drainMap } from '../bpf/drain.js';
import type { Doorbell } from '../bpf/doorbell.js';
import type { Libbpf } from '../bpf/libbpf.js';
import { binaryInfoOf, type BinaryInfo } from '../symbolize/binary.js';
import { ElfFile, withElf } from '../symbolize/elf.js';
import { LruCache } from '../lru.js';
import { forgetMaps, isFileBacked, knownStat, oneStatReadEach, processExists, readExe, readMaps, readMapsShared, readProcText, readStartTime, readStat, type CodeMapping, type ProcStat } from '../symbolize/proc-maps.js';
import { readOwnVdsoImage, VDSO_MAPPING } from '../symbolize/vdso.js';
import { NEED_TABLE, PROC_INFO_BYTES, procInfoValue, type ProcMapping, type ProcPart } from './proc-info.js';
import { unwindTableOf } from './rows.js';
import { TableStore, type TableStoreStats } from './table-store.js';
import { threadCpuSeconds } from '../process-cpu.js';

/**
 * Follows the processes the BPF program samples and gives each its unwind tables: the program reports
 * a pid the first time it sees it (and on exec and exit, bpf/kiln.h `pid_events`); the agent reads
 * that process's executable mappings and writes them, one entry, into `procs`. Tables are loaded
 * lazily, per binary: a mapping starts as "table wanted", and the
 * walker asks for it (`table_requests`) the first time a frame lands in it; the agent then loads that
 * binary's rows once (TableStore, by build id) and points the process's mappings at them. Only the main
 * executable, and binaries another process already loaded, get theirs at once.
 *
 * Why lazy: on this project's shared test host, loading every mapped binary of every sampled process
 * meant 62 binaries, 2.3 M rows (18 MiB of kernel memory) and ≈ 5 s of parsing; the stacks touch a few
 * of them (a Chromium renderer maps ≈ 100 libraries, runs in ≈ 5).
 *
 * Only processes that run are loaded: an idle process costs nothing, and a process costs its mappings,
 * not its samples. Until its tables are in, a process walks by frame pointer (counted as `no_tables`);
 * events are handled within a time budget so a burst of new processes cannot stall the agent.
 *
 * When: as soon as the BPF program rings its doorbell (a table request, a process old enough to load
 * at its LOAD_AT_SAMPLES-th sample, an exec of a loaded process; bpf/doorbell.ts), never within POLL_MS
 * of the last poll; sooner than idle when a pending process becomes old enough or table requests are
 * left over; and at DOORBELL_IDLE_POLL_MS otherwise, for what rings nothing (exits, processes gone
 * young). Without a doorbell, every IDLE_POLL_MS. A wake-up of the agent's node process costs 150–230 µs
 * of CPU on the shared test host however little it does (an empty 100 ms timer alone: 0.15–0.23 % of a
 * core), so the fixed 100 ms poll cost about the agent's whole goal, and the 500 ms one about a third
 * of the agent's CPU on the bench (docs/BENCHMARKS.md, stop 35).
 */

/** Process flags in `procs` (bpf/kiln.h PROC_*). */
export const PROC_TABLES = 1;
export const PROC_PYTHON = 2;
/** Events in `pid_events` (bpf/kiln.h EV_*). */
const EV_NEW = 1;
const EV_EXEC = 2;
const EV_EXIT = 4;
/** Entries per batch read of the event maps (both hold at most a few thousand). */
const DRAIN_BATCH = 1024;
/** glibc's and musl's C library, by file name. */
const LIBC = /\/(libc\.so\.6|libc\.musl-[^/]*\.so\.1|ld-musl-[^/]*\.so\.1)$/;
/** How old a newly seen process must be before it is loaded. */
const MIN_AGE_MS = 200;
/**
 * Poll pace while nothing waits: a new process is seen (and, once MIN_AGE_MS old, loaded) at most this
 * late. 500 ms is 2.5 % of the 20 s the C proof runs, whose 95 % of whole stacks leaves 5 %.
 */
export const IDLE_POLL_MS = 500;
/** Poll pace while nothing waits and the doorbell rings for what does. */
export const DOORBELL_IDLE_POLL_MS = 10_000;
/** Fastest pace (between two polls), while table requests or processes due for loading wait. */
export const POLL_MS = 100;
/**
 * Samples a new process needs before it is loaded (bpf/kiln.h RING_AT_NEW rings at the same count), in
 * one look or across several: ≈ 150 ms of its CPU at 19 Hz. A load costs 1.5–2.5 ms of CPU on the shared
 * test host, and on a loaded host the shell one-liners and short scripts live past MIN_AGE_MS; at two
 * samples the bench (load 21) still loaded about 20 of its short-lived python3 -c a minute.
 * Until then a process's few stacks are walked by frame pointer.
 */
const LOAD_AT_SAMPLES = 3;
/** Bound on the processes remembered as sampled too little. */
const SAMPLED_LITTLE_MAX = 4096;
/** Clock ticks per second of /proc/PID/stat's start time: USER_HZ, 100 on every Linux ABI the agent runs on. */
const USER_HZ = 100;
/** Work per poll before the rest waits for the next one. */
const POLL_BUDGET_MS = 50;

/** What a mapped binary brings besides its rows: a chance for the CPython reader to recognise it. */
export interface MappedBinary {
  readonly mapping: CodeMapping;
  readonly binary: BinaryInfo;
  /** ELF virtual address = runtime address − bias. */
  readonly bias: number;
}

/**
 * Reads a mapped binary's file through the process being loaded first, then through the binary's
 * recorded path, which is the first process's to map it and may be gone with that process. A file
 * deleted or replaced since it was mapped is read only through its recorded path (its map_files entry):
 * the path now names another file. Undefined when nothing opens: that is not "this binary lacks what
 * was looked for", which callers cache.
 */
export function readMappedBinary<T>(pid: number, mb: MappedBinary, read: (file: string) => T, procRoot = '/proc'): { value: T } | undefined {
  const files = mb.mapping.deleted ? [mb.binary.openPath] : [`${procRoot}/${pid}/root${mb.mapping.path}`, mb.binary.openPath];
  for (const file of files) {
    try {
      return { value: read(file) };
    } catch {
      // the next path
    }
  }
  return undefined;
}

/**
 * Recognises an interpreter among a process's binaries. It writes no BPF map itself: it returns the PROC_*
 * flag it set up and its part of the process's `procs` entry (undefined: not its interpreter), and
 * ProcessTables writes the entry, whole, with every part it was handed. One writer per entry: the
 * entry is written again whenever a table is pointed at, and a reader writing its part on its own would
 * have to read the entry back and race that write (a hash map's update replaces the whole value).
 */
export interface ProcessExtension {
  attach(pid: number, binaries: readonly MappedBinary[]): ExtensionPart | undefined;
  /** The process's entry is gone (ProcessTables deleted it): drop what is kept for it, if anything. */
  detach(pid: number): void;
}

/** What an extension set up for a process: its PROC_* flag and its part of the entry. */
export interface ExtensionPart extends ProcPart {
  readonly flag: number;
}

export interface ProcessTablesOptions {
  readonly procRoot?: string;
  readonly extensions?: readonly ProcessExtension[];
  /**
   * Whether a newly seen process is worth its tables. The agent answers with its labeler, so a process
   * that relabel rules drop costs one map write and nothing else (and it is labelled while /proc still
   * answers for it).
   */
  readonly wanted?: (pid: number) => boolean;
  /**
   * The main thread's CPU seconds of each poll (for the agent's per-stage accounting), and how late its
   * timer fired (the agent's event-loop delay, measured without a timer of its own).
   */
  readonly onPoll?: (cpuSeconds: number, lateMs: number) => void;
  /** Bound on processes with loaded tables; past it the least recently loaded are unloaded. */
  readonly maxProcesses?: number;
}

type Target = { readonly key: string; readonly bias: number; readonly binary?: BinaryInfo; readonly build: () => ReturnType<typeof unwindTableOf> };

interface LoadedMapping {
  readonly mapping: CodeMapping;
  readonly target: Target;
  /** wanted: not loaded yet (the walker asks); done: pointed at its table, or at none. */
  state: 'wanted' | 'done';
}

interface Loaded {
  readonly startTime: string | undefined;
  flags: number;
  readonly mappings: LoadedMapping[];
  /** Table keys this process holds a reference to. */
  readonly tables: Set<string>;
  /** The extensions that set it up (only they are told when it goes). */
  readonly attached: ProcessExtension[];
  /** Their parts of the entry, written with it each time. */
  readonly parts: ProcPart[];
}

export interface ProcessTablesStats extends TableStoreStats {
  readonly processes: number;
  readonly loads: number;
  /** Tables pointed to on a walker's request. */
  readonly tableLoads: number;
  readonly loadMs: number;
  readonly pollErrors: number;
  readonly polls: number;
  /** Delay before the next poll, as last scheduled (idlePollMs while nothing waits). */
  readonly nextPollMs: number;
  /** The pace while nothing waits: DOORBELL_IDLE_POLL_MS with a doorbell, else IDLE_POLL_MS. */
  readonly idlePollMs: number;
  /** Times the doorbell woke the agent (0 without one). */
  readonly doorbellRings: number;
}

/** A process the BPF program reported, waiting for its turn. */
interface Pending {
  events: number;
  hits: number;
  /** When (performance.now()) it may be loaded: MIN_AGE_MS after it started; undefined until first looked at. */
  dueAt: number | undefined;
  /** The stat read that dated it, reused by its load (and its labels). */
  stat: ProcStat | undefined;
  /** The poll that dated it. */
  datedIn: number;
}

export class ProcessTables {
  private readonly procRoot: string;
  private readonly loaded: LruCache<number, Loaded>;
  private readonly binaries = new LruCache<string, BinaryInfo | null>(4096);
  private vdso: { key: string; bytes: Buffer } | null | undefined;
  private loads = 0;
  private loadMs = 0;
  private readonly value = Buffer.alloc(PROC_INFO_BYTES);
  private readonly pidKey = Buffer.alloc(4);
  private readonly drainBuffers = { keys: Buffer.alloc(DRAIN_BATCH * 16), values: Buffer.alloc(DRAIN_BATCH * 16) };
  private tableLoads = 0;
  private pollErrors = 0;
  private readonly pending = new Map<number, Pending>();
  /** Processes sampled too little to be loaded, by pid: their start time and samples (see LOAD_AT_SAMPLES). */
  private readonly sampledLittle = new LruCache<number, { readonly startTime: string; readonly hits: number }>(SAMPLED_LITTLE_MAX);
  private readonly requests: [number, number][] = [];
  private polls = 0;
  private nextPollMs = POLL_MS;
  private idlePollMs = IDLE_POLL_MS;
  private doorbell: Doorbell | undefined;

  constructor(
    private readonly lib: Libbpf,
    private readonly fds: { readonly procs: number; readonly pidEvents: number; readonly tableRequests: number },
    readonly store: TableStore,
    private readonly options: ProcessTablesOptions = {},
  ) {
    this.procRoot = options.procRoot ?? '/proc';
    this.loaded = new LruCache(options.maxProcesses ?? 8192, undefined, (pid, l) => this.unload(pid, l));
  }

  /**
   * Handles what the BPF program reported since the last call — table requests first (they complete
   * stacks of processes already running), then new, exec'd and exited processes — within a time budget.
   */
  poll(budgetMs = POLL_BUDGET_MS): void {
    const t0 = performance.now();
    this.polls++;
    const r = this.drainBuffers;
    drainMap(this.lib, this.fds.tableRequests, { key: 16, value: 4, batch: DRAIN_BATCH }, r.keys, r.values, (k, _v, i) => {
      this.requests.push([k.readUInt32LE(i * 16), Number(k.readBigUInt64LE(i * 16 + 8))]);
    });
    this.drainEvents();
    while (this.requests.length > 0 && performance.now() - t0 < budgetMs) {
      const [pid, start] = this.requests.shift()!;
      this.loadTable(pid, start);
    }
    this.dateNewProcesses(t0);
    // Busiest first: when many processes appear at once (the agent starting on a busy host), the ones
    // burning CPU get whole stacks soonest.
    const order = [...this.pending].sort((a, b) => b[1].hits - a[1].hits);
    for (const [pid, p] of order) {
      if (performance.now() - t0 >= budgetMs) break;
      const ev = p.events;
      // A new process is loaded once MIN_AGE_MS old: the shell one-liners and short scripts of a busy
      // host are gone by then and cost one failed stat instead of a load.
      if (ev === EV_NEW && (p.dueAt ?? Infinity) > t0) continue;
      this.pending.delete(pid);
      if (ev === EV_NEW && p.hits < LOAD_AT_SAMPLES && !this.sampledEnough(pid, p)) continue;
      if (ev & EV_EXIT) {
        // The main thread left; the process is gone unless other threads still run (then keep it).
        const l = this.loaded.get(pid);
        if (l && readStartTime(pid, this.procRoot) !== l.startTime) this.drop(pid);
        continue;
      }
      if (ev & EV_EXEC) {
        this.drop(pid);
        forgetMaps(pid, this.procRoot);
      }
      if (!this.loaded.has(pid)) this.load(pid, ev === EV_NEW ? p : undefined);
    }
  }

  /**
   * Takes what the BPF program reported about processes (new, exec'd, exited) into `pending`, for the next
   * poll to handle; the agent's interval also calls it first, so liveStartTime() hears of the latest exits.
   */
  drainEvents(): void {
    const r = this.drainBuffers;
    drainMap(this.lib, this.fds.pidEvents, { key: 4, value: 16, batch: DRAIN_BATCH }, r.keys, r.values, (k, v, i) => {
      const pid = k.readUInt32LE(i * 4);
      const hits = Number(v.readBigUInt64LE(i * 16 + 8));
      const events = v.readUInt32LE(i * 16);
      const p = this.pending.get(pid);
      if (p) {
        p.events |= events;
        p.hits += hits;
      } else this.pending.set(pid, { events, hits, dueAt: undefined, stat: undefined, datedIn: 0 });
    });
  }

  /**
   * The start time of a loaded process nothing has been reported about since: the BPF program reports
   * the exit and the exec of every process with a `procs` entry, so it is still the process that was
   * loaded, and no read of its stat is needed to tell (oneStatReadEach's `vouch`). undefined otherwise.
   */
  liveStartTime(pid: number): string | undefined {
    return this.pending.has(pid) ? undefined : this.loaded.peek(pid)?.startTime;
  }

  /**
   * Looks once at each process newly reported: gone (most short-lived ones) → forgotten; alive → due
   * MIN_AGE_MS after it started, by its start time, so a process first seen after a slow poll is not
   * made to wait again, and the stat read is the one its load uses.
   */
  private dateNewProcesses(now: number): void {
    let uptimeMs: number | undefined;
    for (const [pid, p] of this.pending) {
      if (p.events !== EV_NEW || p.dueAt !== undefined) continue;
      const stat = readStat(pid, this.procRoot);
      if (stat === undefined) {
        this.pending.delete(pid);
        continue;
      }
      uptimeMs ??= this.uptimeMs();
      const ageMs = uptimeMs === undefined ? 0 : uptimeMs - (Number(stat.startTime) * 1000) / USER_HZ;
      p.stat = stat;
      p.datedIn = this.polls;
      p.dueAt = now + Math.max(0, MIN_AGE_MS - ageMs);
    }
  }

  /**
   * Whether a process sampled fewer than LOAD_AT_SAMPLES times since the last look has been sampled
   * that often counting earlier looks (the same process: the same start time). Remembers its samples
   * when not, for the next time.
   */
  private sampledEnough(pid: number, p: Pending): boolean {
    const startTime = p.stat?.startTime;
    if (startTime === undefined) return true; // cannot tell: load it, as a busy process
    const before = this.sampledLittle.get(pid);
    const hits = p.hits + (before?.startTime === startTime ? before.hits : 0);
    if (hits >= LOAD_AT_SAMPLES) {
      this.sampledLittle.delete(pid);
      return true;
    }
    this.sampledLittle.set(pid, { startTime, hits });
    return false;
  }

  /** Milliseconds since boot, the clock of a process's start time; undefined when unreadable. */
  private uptimeMs(): number | undefined {
    const text = readProcText(`${this.procRoot}/uptime`, true);
    const seconds = text === undefined ? NaN : parseFloat(text);
    return Number.isFinite(seconds) ? seconds * 1000 : undefined;
  }

  /** When to poll next: soon while work waits, else at the idle pace. */
  private nextDelay(minMs: number): number {
    if (this.requests.length > 0) return minMs;
    let due = Infinity;
    for (const p of this.pending.values()) {
      // Sampled too little to be loaded when due: worth no poll of its own (the next one looks at it).
      if (p.events === EV_NEW && p.hits < LOAD_AT_SAMPLES) continue;
      due = Math.min(due, p.dueAt ?? 0);
    }
    return Math.min(Math.max(this.idlePollMs, minMs), Math.max(minMs, due - performance.now()));
  }

  /**
   * Loads, once and for good, the table of the agent's own C library: the host's, which nearly every
   * process on the host runs. Done at start, so a process's first stacks do not wait for it (cold, its
   * 28 k rows took 0.3–0.5 s to compile on the shared test host).
   */
  preloadOwnLibc(): void {
    const m = readMaps(process.pid, this.procRoot)?.find((x) => LIBC.test(x.path));
    const target = m ? this.tableOf(process.pid, m) : undefined;
    if (target) this.store.acquire(target.key, target.build);
  }

  /**
   * The agent kept a profile of this process: if it was first judged not worth tables (its labels were
   * dropped, e.g. before it renamed itself), load them now.
   */
  keep(pid: number): void {
    const l = this.loaded.get(pid);
    if (l && l.flags === 0 && l.mappings.length === 0) {
      this.loaded.delete(pid);
      this.pending.set(pid, { events: EV_EXEC, hits: 0, dueAt: 0, stat: undefined, datedIn: 0 });
    }
  }

  /**
   * Starts polling, at most every `minMs`, when `doorbell` rings and at least every idle pace (see the
   * class comment); returns the function that stops it (and closes the doorbell).
   */
  start(minMs = POLL_MS, doorbell?: Doorbell): () => void {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let dueAt = performance.now() + minMs;
    let lastPollAt = -Infinity;
    this.doorbell = doorbell;
    this.idlePollMs = doorbell ? DOORBELL_IDLE_POLL_MS : IDLE_POLL_MS;
    const schedule = (delayMs: number) => {
      clearTimeout(timer);
      this.nextPollMs = delayMs;
      dueAt = performance.now() + delayMs;
      timer = setTimeout(tick, delayMs);
      timer.unref();
    };
    const tick = () => {
      clearTimeout(timer);
      lastPollAt = performance.now();
      const lateMs = lastPollAt - dueAt;
      // The poll runs wholly on the main thread: its own CPU, not what V8's threads ran meanwhile.
      const cpu = threadCpuSeconds();
      try {
        oneStatReadEach(() => this.poll());
      } catch {
        this.pollErrors++; // a failed map read: the events wait for the next poll
      }
      this.options.onPoll?.(threadCpuSeconds() - cpu, lateMs);
      if (!stopped) schedule(this.nextDelay(minMs));
    };
    schedule(minMs);
    // A ring polls at once (in the wake-up it already paid for), or once POLL_MS after the last poll.
    doorbell?.listen(
      () => {
        if (stopped) return;
        const now = performance.now();
        const earliest = Math.max(now, lastPollAt + minMs);
        if (dueAt <= earliest) return; // a poll is due by then anyway
        if (earliest > now) return schedule(earliest - now);
        dueAt = now;
        tick();
      },
      () => {
        // The doorbell broke: poll at the pace that needs none.
        this.idlePollMs = IDLE_POLL_MS;
        if (!stopped) schedule(Math.min(this.nextPollMs, IDLE_POLL_MS));
      },
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
      doorbell?.close();
    };
  }

  stats(): ProcessTablesStats {
    return {
      ...this.store.stats(),
      processes: this.loaded.size,
      loads: this.loads,
      tableLoads: this.tableLoads,
      loadMs: this.loadMs,
      pollErrors: this.pollErrors,
      polls: this.polls,
      nextPollMs: this.nextPollMs,
      idlePollMs: this.idlePollMs,
      doorbellRings: this.doorbell?.rings ?? 0,
    };
  }

  /** Unloads every process (the agent is stopping; the maps go with the BPF object anyway). */
  clear(): void {
    for (const pid of this.loaded.keys()) this.drop(pid);
  }

  private drop(pid: number): void {
    const l = this.loaded.get(pid);
    if (!l) return;
    this.loaded.delete(pid);
    this.unload(pid, l);
  }

  /**
   * `dated`: a new process, whose stat was read when it was dated (in this poll or an earlier one).
   * Dated in an earlier poll (it was younger than MIN_AGE_MS then), the stat read is reused, not
   * repeated, by this load and its labels, and a process gone since (the short-lived ones that outlived
   * their first poll, not their wait) costs one stat of its /proc directory: no labels, no failed open.
   */
  private load(pid: number, dated?: Pending): void {
    const t0 = performance.now();
    if (dated?.stat !== undefined && dated.datedIn !== this.polls) {
      if (!processExists(pid, this.procRoot)) return;
      knownStat(pid, dated.stat, this.procRoot);
    }
    const startTime = dated?.stat?.startTime ?? readStartTime(pid, this.procRoot);
    if (startTime === undefined) return; // gone already: nothing to walk
    if (this.options.wanted && !this.options.wanted(pid)) {
      // Dropped: an entry without mappings stops the walker reporting it; it walks by frame pointer.
      const none: Loaded = { startTime, flags: 0, mappings: [], tables: new Set(), attached: [], parts: [] };
      this.loaded.set(pid, none);
      this.write(pid, none);
      return;
    }
    // Shared: the symbolizer's first look at this process, at the next interval, takes this listing.
    const maps = readMapsShared(pid, startTime, this.procRoot);
    if (!maps) return;
    this.loads++;
    // Labelling it (wanted, above) read the link in this same poll: one readlink.
    const exe = readExe(pid, this.procRoot);
    const loaded: Loaded = { startTime, flags: PROC_TABLES, mappings: [], tables: new Set(), attached: [], parts: [] };
    const mapped: MappedBinary[] = [];
    for (const m of maps) {
      const target = this.tableOf(pid, m);
      if (!target) continue;
      if (target.binary) mapped.push({ mapping: m, binary: target.binary, bias: target.bias });
      const lm: LoadedMapping = { mapping: m, target, state: 'wanted' };
      // The executable and libc (where every thread starts) are on nearly every stack, and a table
      // another process loaded costs nothing: those are pointed at at once. Lazily, the libc of a new
      // process's first blocks was found missing: 0.49 s of 8 s of a test's off-CPU time lost its callers.
      if (m.path === exe || LIBC.test(m.path) || this.store.has(target.key)) this.pointAtTable(loaded, lm);
      loaded.mappings.push(lm);
    }
    for (const ext of this.options.extensions ?? []) {
      const part = ext.attach(pid, mapped);
      if (!part) continue;
      loaded.flags |= part.flag;
      loaded.attached.push(ext);
      loaded.parts.push(part);
    }
    this.loaded.set(pid, loaded);
    this.write(pid, loaded);
    this.loadMs += performance.now() - t0;
  }

  /** A walker stepped into a binary without its table: load it, point every mapping of it at it. */
  private loadTable(pid: number, start: number): void {
    const loaded = this.loaded.get(pid);
    const asked = loaded?.mappings.find((lm) => lm.mapping.start === start);
    if (!loaded || !asked || asked.state === 'done') return;
    const t0 = performance.now();
    this.tableLoads++;
    for (const lm of loaded.mappings) if (lm.state === 'wanted' && lm.target.key === asked.target.key) this.pointAtTable(loaded, lm);
    this.write(pid, loaded);
    this.loadMs += performance.now() - t0;
  }

  private pointAtTable(loaded: Loaded, lm: LoadedMapping): void {
    if (!loaded.tables.has(lm.target.key)) {
      this.store.acquire(lm.target.key, lm.target.build);
      loaded.tables.add(lm.target.key);
    }
    lm.state = 'done';
  }

  /** The process's entry in `procs`: one write. */
  private write(pid: number, loaded: Loaded): void {
    const mappings: ProcMapping[] = loaded.mappings.map((lm) => {
      const slice = lm.state === 'done' ? this.store.slice(lm.target.key) : undefined;
      return { start: lm.mapping.start, end: lm.mapping.end, bias: lm.target.bias, first: lm.state === 'wanted' ? NEED_TABLE : (slice?.first ?? 0), count: slice?.count ?? 0 };
    });
    this.pidKey.writeUInt32LE(pid);
    this.lib.mapUpdateElem(this.fds.procs, this.pidKey, procInfoValue(loaded.flags, mappings, this.value, loaded.parts), 0);
  }

  private unload(pid: number, l: Loaded): void {
    this.pidKey.writeUInt32LE(pid);
    this.lib.mapDeleteElem(this.fds.procs, this.pidKey);
    for (const t of l.tables) this.store.release(t);
    // Only the extensions that set the process up are told (the entry, their parts with it, is deleted above).
    for (const ext of l.attached) ext.detach(pid);
  }

  /** The table key, bias and builder of one executable mapping; undefined for anonymous memory (JIT code). */
  private tableOf(pid: number, m: CodeMapping): Target | undefined {
    if (m.path === VDSO_MAPPING) {
      const vdso = this.ownVdso();
      if (!vdso) return undefined;
      // The vdso image is linked at 0 and mapped whole: ELF address = offset into the mapping.
      return { key: vdso.key, bias: m.start, build: () => unwindTableOf(ElfFile.fromBuffer(VDSO_MAPPING, vdso.bytes), false) };
    }
    if (!isFileBacked(m)) return undefined;
    const identity = `${m.fileId} ${m.path}`;
    const openPath = m.deleted ? `${this.procRoot}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}` : `${this.procRoot}/${pid}/root${m.path}`;
    let bin = this.binaries.get(identity);
    if (bin === undefined) {
      try {
        // Headers the symbolizer read already (or will take from here): one read per binary in the agent.
        bin = binaryInfoOf(`${this.procRoot} ${identity}`, openPath, m.path, m.fileId);
      } catch {
        bin = null;
      }
      this.binaries.set(identity, bin);
    }
    if (!bin) return undefined;
    const len = m.end - m.start;
    const load = bin.loads.find((p) => m.offset < p.offset + p.filesz && m.offset + len > p.offset);
    if (!load) return undefined;
    const b = bin;
    return {
      key: b.symbolsKey,
      bias: m.start - m.offset + load.offset - load.vaddr,
      binary: b,
      // Rows in the compiler's working memory: the store packs them into the array at once.
      build: () => compileFirstReachable([openPath, b.openPath], b.buildId),
    };
  }

  private ownVdso(): { key: string; bytes: Buffer } | null {
    if (this.vdso === undefined) {
      const bytes = readOwnVdsoImage();
      this.vdso = bytes ? { key: `vdso:${ElfFile.fromBuffer(VDSO_MAPPING, bytes).buildId()}`, bytes } : null;
    }
    return this.vdso;
  }
}

/**
 * Compiles the table of the first path that still reaches the binary: the asking process's own view
 * first — the process that first showed the binary (whose view `BinaryInfo.openPath` is) may have exited,
 * and a table that failed to build is remembered as absent for every later process. With a build id,
 * only a file with that id counts.
 */
function compileFirstReachable(paths: readonly string[], buildId: string): ReturnType<typeof unwindTableOf> {
  let lastError: unknown = new Error('no path reaches the binary');
  for (const path of new Set(paths)) {
    try {
      const table = withElf(path, (elf) => (buildId && elf.buildId() !== buildId ? null : unwindTableOf(elf, false)));
      if (table !== null) return table;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}
