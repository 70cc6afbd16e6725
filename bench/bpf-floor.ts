/**
 * The floor under `kiln_sample` on this host: small perf-event programs (bench/bpf-floor.bpf.c), each
 * attached on its own to a CPU clock on every CPU at the bench's rate, in the same run as the agent and
 * bpftrace (`bench/bpf-walk.ts … floor`): an empty program, the kernel-stack and user-stack helpers
 * bpftrace's `kstack`/`ustack` use, a frame-pointer walk by bpf_probe_read_user, a hash-map count, a
 * lookup by pid that finds its entry (as py_procs or v8_procs), and reads of cold lines of a 16 MiB
 * array (one page, eight lines of one page, one line in each of eight pages: a cache miss against a
 * TLB miss), and a ring-buffer record sent to user space (against the hash count). Needs clang and root.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { libbpf, type Ptr } from '../src/agent/bpf/libbpf.js';
import { cpuClockAttr, onlineCpus, PERF_FLAG_FD_CLOEXEC } from '../src/agent/bpf/perf-event.js';

const SOURCE = fileURLToPath(new URL('./bpf-floor.bpf.c', import.meta.url));

/** The programs, and what each one's run does (for the table's last column). */
export const FLOOR_PROGRAMS = ['floor_empty', 'floor_kstack', 'floor_ustack', 'floor_fp', 'floor_hash', 'floor_page1', 'floor_lines8', 'floor_pages8', 'floor_lookup', 'floor_ring'] as const;
export type FloorProgram = (typeof FLOOR_PROGRAMS)[number];

/** Slots of floor_sums (S_* in bpf-floor.bpf.c). */
const S = { kstackRuns: 0, kstackFrames: 1, ustackRuns: 2, ustackFrames: 3, fpRuns: 4, fpFrames: 5, hashNew: 7, lookupHits: 8, timed: 9, batched: 10, ringDrops: 11 } as const;

export interface Floor {
  /** Program id of each floor program (bpftool's). */
  readonly ids: ReadonlyMap<FloorProgram, number>;
  /** floor_sums summed over CPUs. */
  sums(): number[];
  /** floor_hist summed over CPUs: HIST_SLOTS per program of FLOOR_PROGRAMS, in order (floor_empty's unused). */
  hists(): number[];
  stop(): void;
}

/** phases.h's HIST_*: 128 buckets of 250 ns, then the count of longer runs and their summed ns. */
export const HIST_STEP_NS = 250;
export const HIST_LINEAR = 128;
export const HIST_SLOTS = HIST_LINEAR + 2;

/**
 * A histogram's median, 90th and 99th percentiles (bucket midpoints) and mean, in µs, and the share of
 * the summed time that runs of 32 µs or more took.
 */
export function histSummary(h: readonly number[]): string {
  const n = h.slice(0, HIST_LINEAR + 1).reduce((a, b) => a + b, 0);
  if (n === 0) return 'no runs timed';
  const long = h[HIST_LINEAR] ?? 0;
  const longNs = h[HIST_LINEAR + 1] ?? 0;
  let totalNs = longNs;
  for (let i = 0; i < HIST_LINEAR; i++) totalNs += (h[i] ?? 0) * (i + 0.5) * HIST_STEP_NS;
  const at = (q: number) => {
    let seen = 0;
    for (let i = 0; i < HIST_LINEAR; i++) {
      seen += h[i] ?? 0;
      if (seen >= q * n) return (((i + 0.5) * HIST_STEP_NS) / 1000).toFixed(2);
    }
    return `≥ ${((HIST_LINEAR * HIST_STEP_NS) / 1000).toFixed(0)}`;
  };
  const us = (ns: number) => (ns / 1000).toFixed(2);
  return `timed ${n}: p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, mean ${us(totalNs / n)} µs; ${long} runs ≥ 32 µs took ${((100 * longNs) / totalNs).toFixed(0)} % of the time`;
}

/** Sums of a per-CPU u64 array's first `slots` entries over every possible CPU. */
function percpuSums(fd: number, slots: number): number[] {
  const bpf = libbpf();
  const cpus = bpf.possibleCpus();
  const out: number[] = [];
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8 * cpus);
  for (let i = 0; i < slots; i++) {
    key.writeUInt32LE(i);
    let s = 0;
    if (fd >= 0 && bpf.mapLookupElem(fd, key, value) === 0) for (let c = 0; c < cpus; c++) s += Number(value.readBigUInt64LE(8 * c));
    out.push(s);
  }
  return out;
}

/** Builds the floor programs into `dir` and attaches each to a `hz` CPU clock on every online CPU. */
export function startFloor(dir: string, hz: number): Floor {
  const obj = path.join(dir, 'bpf-floor.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-nostdinc', '-Wall', '-Werror', '-Wno-unused-function', '-c', SOURCE, '-o', obj]);
  const bpf = libbpf();
  const before = new Set(bpfProgIds());
  const o = bpf.objectOpenFile(obj);
  if (!o || bpf.objectLoad(o) !== 0) throw new Error(`cannot load ${obj}: errno ${bpf.errno()}`);
  const links: Ptr[] = [];
  const fds: number[] = [];
  for (const name of FLOOR_PROGRAMS) {
    const prog = bpf.findProgram(o, name);
    if (!prog) throw new Error(`no program ${name}`);
    for (const cpu of onlineCpus()) {
      const fd = bpf.perfEventOpen(cpuClockAttr(hz), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
      if (fd < 0) throw new Error(`perf_event_open: errno ${bpf.errno()}`);
      fds.push(fd);
      const link = bpf.attachPerfEvent(prog, fd);
      if (!link) throw new Error(`attach ${name}: errno ${bpf.errno()}`);
      links.push(link);
    }
  }
  // bpftool shows at most 15 characters of a name: match the loaded programs by that prefix.
  const ids = new Map<FloorProgram, number>();
  const shown = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { id: number; name?: string }[];
  for (const p of shown) {
    if (before.has(p.id)) continue;
    const name = FLOOR_PROGRAMS.find((n) => n.slice(0, 15) === p.name);
    if (name) ids.set(name, p.id);
  }
  const fdOf = (name: string) => {
    const m = bpf.findMap(o, name);
    return m ? bpf.mapFd(m) : -1;
  };
  const sumsFd = fdOf('floor_sums');
  // floor_ring's records are drained as an agent would, so the ring never fills and refuses them.
  const ring = bpf.ringBufferNew(fdOf('samples_ring'));
  if (!ring) throw new Error('cannot read floor_ring\'s ring buffer');
  const drain = setInterval(() => bpf.ringBufferConsume(ring), 100);
  const histFd = fdOf('floor_hist');
  return {
    ids,
    sums: () => percpuSums(sumsFd, 12),
    hists: () => percpuSums(histFd, FLOOR_PROGRAMS.length * HIST_SLOTS),
    stop() {
      clearInterval(drain);
      bpf.ringBufferFree(ring);
      for (const l of links) bpf.linkDestroy(l);
      for (const fd of fds) bpf.close(fd);
      bpf.objectClose(o);
    },
  };
}

function bpfProgIds(): number[] {
  return (JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { id: number }[]).map((p) => p.id);
}

/** What a floor program did per run between two `sums()` snapshots, for the table. */
export function floorWork(name: FloorProgram, d: readonly number[], runs: number): string {
  const per = (n: number, of: number) => (of > 0 ? (n / of).toFixed(1) : '-');
  switch (name) {
    case 'floor_kstack':
      return `${per(d[S.kstackFrames]!, d[S.kstackRuns]!)} kernel frames a run`;
    case 'floor_ustack':
      return `${per(d[S.ustackFrames]!, d[S.ustackRuns]!)} user frames a run`;
    case 'floor_fp':
      return `${per(d[S.fpFrames]!, d[S.fpRuns]!)} frames a user-mode run (${per(100 * d[S.fpRuns]!, runs)} % of runs)`;
    case 'floor_hash':
      return `${per(100 * d[S.hashNew]!, runs)} % of runs inserted a new key`;
    case 'floor_page1':
      return '1 line of 1 page';
    case 'floor_lines8':
      return '8 lines of 1 page';
    case 'floor_pages8':
      return '1 line in each of 8 pages';
    case 'floor_ring':
      return `a ${8 * 29}-byte record sent to user space; ${per(100 * d[S.ringDrops]!, runs)} % refused (ring full)`;
    case 'floor_lookup':
      return `${per(100 * d[S.lookupHits]!, runs)} % of runs found their pid's entry`;
    default:
      return `timed runs of the others starting within 20 µs of another's on the same CPU: ${per(100 * d[S.batched]!, d[S.timed]!)} %`;
  }
}
