import { setTimeout as sleep } from 'node:timers/promises';
import { drainMap } from './bpf/drain.js';
import type { BpfCounters, BpfProfiler } from './loader.js';
import { BPF_COUNTERS, KEY_SIZE, STACK_CLASSES, STACK_KEY_SIZE } from './loader.js';
import type { RawSample, SampleKind } from './types.js';

/**
 * Each interval: flip the BPF program to the other generation, let in-flight samples finish, then read
 * and clear the generation nobody writes any more. Produces RawSamples with their stacks resolved to
 * addresses (symbolization is the next stage's job).
 */

/** How long after a flip a BPF program may still be writing the old generation (it runs for µs). */
const FLIP_GRACE_MS = 5;
/** Rows per batch syscall; big enough that a hash bucket never overflows a batch (ENOSPC). */
const BATCH = 4096;
/** Bytes of stack values read per batch syscall: a class of 1 KiB values is read 1024 at a time. */
const STACK_READ_BYTES = 1 << 20;
const LARGEST_STACK_WORDS = Math.max(...STACK_CLASSES);
/** Rows per batch of a stacks map whose values have `words` words. */
const stackBatch = (words: number) => Math.min(BATCH, STACK_READ_BYTES / (words * 8));

export interface Collected {
  readonly samples: RawSample[];
  /** BPF counters that grew since the previous collect(). */
  readonly counterDeltas: BpfCounters;
}

export class Sampler {
  private lastCounters: BpfCounters;
  private readonly countKeys = Buffer.alloc(BATCH * KEY_SIZE);
  private readonly countValues = Buffer.alloc(BATCH * 8);
  private readonly stackKeys = Buffer.alloc(BATCH * STACK_KEY_SIZE);
  private readonly stackValues = Buffer.alloc(stackBatch(LARGEST_STACK_WORDS) * LARGEST_STACK_WORDS * 8);

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
    const rows: CountRow[] = [];
    drainMap(this.bpf.lib, maps.counts, { key: KEY_SIZE, value: 8, batch: BATCH }, this.countKeys, this.countValues, (keys, values, i) =>
      rows.push(decodeRow(keys, i * KEY_SIZE, values.readBigUInt64LE(i * 8))),
    );
    // Every stored stack is read and deleted, referenced or not (stacks of dropped samples too), so
    // nothing piles up across intervals.
    const stacks = new Map<bigint, bigint[]>();
    for (const { fd, words } of maps.stacks) {
      const value = words * 8;
      drainMap(this.bpf.lib, fd, { key: STACK_KEY_SIZE, value, batch: stackBatch(words) }, this.stackKeys, this.stackValues, (keys, values, i) =>
        stacks.set(keys.readBigUInt64LE(i * STACK_KEY_SIZE), decodeStack(values, i * value, words)),
      );
    }

    const samples: RawSample[] = rows.map((r) => ({
      pid: r.pid,
      kind: r.kind,
      comm: r.comm,
      userAddrs: r.userStack !== 0n ? (stacks.get(r.userStack) ?? []) : [],
      userStack: r.userStack,
      kernelAddrs: r.kernelStack !== 0n ? (stacks.get(r.kernelStack) ?? []) : [],
      count: r.count,
    }));
    return { samples, counterDeltas };
  }
}

/** Frames of one stored stack of `words` words, leaf first: the first word counts them, the tail is stale. */
export function decodeStack(buf: Buffer, off: number, words: number): bigint[] {
  const len = Math.min(words - 1, Number(buf.readBigUInt64LE(off)));
  const addrs: bigint[] = new Array<bigint>(len);
  for (let i = 0; i < len; i++) addrs[i] = buf.readBigUInt64LE(off + 8 + i * 8);
  return addrs;
}

interface CountRow {
  readonly pid: number;
  readonly kind: SampleKind;
  /** Content hash of the user stack; 0n = none. */
  readonly userStack: bigint;
  readonly kernelStack: bigint;
  readonly comm: string;
  readonly count: number;
}

/** Decodes one `struct sample_key` (profile.bpf.c) and its count. */
export function decodeRow(buf: Buffer, off: number, count: bigint): CountRow {
  const comm = buf.subarray(off + 24, off + 40);
  const nul = comm.indexOf(0);
  return {
    pid: buf.readUInt32LE(off),
    kind: buf.readUInt32LE(off + 4) === 1 ? 'off_cpu' : 'cpu',
    userStack: buf.readBigUInt64LE(off + 8),
    kernelStack: buf.readBigUInt64LE(off + 16),
    comm: comm.subarray(0, nul < 0 ? 16 : nul).toString('utf8'),
    count: Number(count),
  };
}
