import { setTimeout as sleep } from 'node:timers/promises';
import type { BpfCounters, BpfProfiler } from './loader.js';
import { BPF_COUNTERS, KEY_SIZE, STACK_DEPTH, STACK_VALUE_SIZE } from './loader.js';
import type { RawSample } from './types.js';

/**
 * Each interval: flip the BPF program to the other generation, let in-flight samples finish, then read
 * and clear the generation nobody writes any more. Produces RawSamples with their stacks resolved to
 * addresses (symbolization is the next stage's job).
 */

/** How long after a flip a BPF program may still be writing the old generation (it runs for µs). */
const FLIP_GRACE_MS = 5;
/** Rows per batch syscall; big enough that a hash bucket never overflows a batch (ENOSPC). */
const BATCH = 4096;
const ENOENT = 2;

export interface Collected {
  readonly samples: RawSample[];
  /** BPF counters that grew since the previous collect(). */
  readonly counterDeltas: BpfCounters;
}

export class Sampler {
  private lastCounters: BpfCounters;
  private readonly keys = Buffer.alloc(BATCH * KEY_SIZE);
  private readonly values = Buffer.alloc(BATCH * 8);
  private readonly stackValue = Buffer.alloc(STACK_VALUE_SIZE);

  constructor(private readonly bpf: BpfProfiler) {
    this.lastCounters = bpf.counters();
  }

  async collect(): Promise<Collected> {
    const old = this.bpf.generation as 0 | 1;
    this.bpf.setGeneration(old === 0 ? 1 : 0);
    await sleep(FLIP_GRACE_MS);
    const counters = this.bpf.counters();
    const counterDeltas = {} as BpfCounters;
    for (const name of BPF_COUNTERS) counterDeltas[name] = counters[name] - this.lastCounters[name];
    this.lastCounters = counters;

    const maps = this.bpf.generations[old];
    const rows = this.drainCounts(maps.counts);
    const stacks = this.readStacks(maps.stacks, rows);
    // Stacks of dropped samples (counts map full, half-failed stack pairs) are referenced by no row:
    // sweep the whole map then, so they cannot pile up across intervals.
    const dropped = counterDeltas.counts_full + counterDeltas.stacks_full + counterDeltas.stack_collision + counterDeltas.stack_error;
    this.clearStacks(maps.stacks, dropped > 0 ? undefined : stacks.keys());

    const samples: RawSample[] = rows.map((r) => ({
      pid: r.pid,
      tid: r.tid,
      comm: r.comm,
      userAddrs: r.userStack >= 0 ? (stacks.get(r.userStack) ?? []) : [],
      kernelAddrs: r.kernelStack >= 0 ? (stacks.get(r.kernelStack) ?? []) : [],
      count: r.count,
    }));
    return { samples, counterDeltas };
  }

  /** Reads and deletes every row of a counts map with batch syscalls. */
  private drainCounts(fd: number): CountRow[] {
    const lib = this.bpf.lib;
    const out: CountRow[] = [];
    let inBatch: Buffer | null = null;
    let outBatch: Buffer = Buffer.alloc(KEY_SIZE);
    const count = Buffer.alloc(4);
    for (;;) {
      count.writeUInt32LE(BATCH);
      const rc = lib.mapLookupAndDeleteBatch(fd, inBatch, outBatch, this.keys, this.values, count);
      // ENOENT means "nothing after this batch": success, and the rows it returned still count.
      if (rc < 0 && rc !== -ENOENT) throw new Error(`reading BPF counts failed: errno ${-rc}`);
      const n = count.readUInt32LE();
      for (let i = 0; i < n; i++) out.push(decodeRow(this.keys, i * KEY_SIZE, this.values.readBigUInt64LE(i * 8)));
      if (rc === -ENOENT || n === 0) return out;
      const next: Buffer = inBatch ?? Buffer.alloc(KEY_SIZE);
      inBatch = outBatch;
      outBatch = next;
    }
  }

  private readStacks(fd: number, rows: readonly CountRow[]): Map<number, bigint[]> {
    const lib = this.bpf.lib;
    const stacks = new Map<number, bigint[]>();
    const key = Buffer.alloc(4);
    for (const r of rows) {
      for (const id of [r.userStack, r.kernelStack]) {
        if (id < 0 || stacks.has(id)) continue;
        key.writeUInt32LE(id);
        const addrs: bigint[] = [];
        if (lib.mapLookupElem(fd, key, this.stackValue) === 0) {
          for (let i = 0; i < STACK_DEPTH; i++) {
            const a = this.stackValue.readBigUInt64LE(i * 8);
            if (a === 0n) break;
            addrs.push(a);
          }
        }
        stacks.set(id, addrs);
      }
    }
    return stacks;
  }

  /** Deletes the given stack ids, or every entry when `ids` is undefined. */
  private clearStacks(fd: number, ids: Iterable<number> | undefined): void {
    const lib = this.bpf.lib;
    const key = Buffer.alloc(4);
    let all: number[];
    if (ids) {
      all = [...ids];
    } else {
      all = [];
      const next = Buffer.alloc(4);
      let prev: Buffer | null = null;
      while (lib.mapGetNextKey(fd, prev, next) === 0) {
        all.push(next.readUInt32LE());
        prev = key;
        next.copy(key);
      }
    }
    for (const id of all) {
      key.writeUInt32LE(id);
      lib.mapDeleteElem(fd, key);
    }
  }
}

interface CountRow {
  readonly pid: number;
  readonly tid: number;
  readonly userStack: number;
  readonly kernelStack: number;
  readonly comm: string;
  readonly count: number;
}

/** Decodes one `struct sample_key` (profile.bpf.c) and its count. */
export function decodeRow(buf: Buffer, off: number, count: bigint): CountRow {
  const comm = buf.subarray(off + 16, off + 32);
  const nul = comm.indexOf(0);
  return {
    pid: buf.readUInt32LE(off),
    tid: buf.readUInt32LE(off + 4),
    userStack: buf.readInt32LE(off + 8),
    kernelStack: buf.readInt32LE(off + 12),
    comm: comm.subarray(0, nul < 0 ? 16 : nul).toString('utf8'),
    count: Number(count),
  };
}
