import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { Unavailable } from '../model/errors.js';
import { storedStacksOf } from '../store/stored-stacks.js';
import { announceWrites } from '../store/write-hints.js';
import type { ServerContext } from './context.js';
import type { DecodeTask, Decoded } from './decode-tasks.js';
import { runDecodeTask } from './decode-tasks.js';
import type { DecodeReply } from './decode-transfer.js';
import { unpackReply } from './decode-transfer.js';

/**
 * Where ingest payloads are decoded: a pool of worker threads, so a large pprof or OTLP body (seconds
 * of decoding at the limits) never holds the event loop that answers /healthz, queries and other
 * tenants. Every protocol goes through `decodeOffLoop`, the one dispatch point.
 */
export interface DecodePool {
  /** Worker threads; 0 means decoding on the event loop (the pool switched off). */
  readonly threads: number;
  /** Tasks waiting for a thread right now. */
  readonly queued: number;
  /** Tasks handed over and not yet answered (waiting or decoding): what /metrics and the tests watch. */
  readonly inFlight: number;
  decode(task: DecodeTask): Promise<Decoded>;
  close(): Promise<void>;
}

export interface DecodePoolOptions {
  /** Worker threads; 0 decodes on the event loop. Default: cores − 1, at least 1. */
  readonly threads?: number;
  /** Tasks that may wait for a thread; past it a request is refused 503 (server full). */
  readonly maxQueue: number;
}

/** One core stays with the event loop (HTTP, the store's commits); the rest decode. */
export function defaultDecodeThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function createDecodePool(opts: DecodePoolOptions): DecodePool {
  const threads = opts.threads ?? defaultDecodeThreads();
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`decode worker threads must be a whole number ≥ 0, got ${threads}`);
  return threads === 0 ? new EventLoopDecoder() : new WorkerDecodePool(threads, opts.maxQueue);
}

class EventLoopDecoder implements DecodePool {
  readonly threads = 0;
  readonly queued = 0;
  inFlight = 0;
  async decode(task: DecodeTask): Promise<Decoded> {
    this.inFlight++;
    try {
      return await runDecodeTask(task);
    } finally {
      this.inFlight--;
    }
  }
  async close(): Promise<void> {}
}

class WorkerDecodePool implements DecodePool {
  private readonly pool: Piscina<DecodeTask, DecodeReply>;
  inFlight = 0;

  constructor(
    readonly threads: number,
    private readonly maxQueue: number,
  ) {
    this.pool = new Piscina({ ...workerEntry(), minThreads: threads, maxThreads: threads, maxQueue, idleTimeout: 60_000 });
  }

  get queued(): number {
    return this.pool.queueSize;
  }

  async decode(task: DecodeTask): Promise<Decoded> {
    // Checked here rather than left to Piscina, whose refusal is a plain Error (a 500).
    if (this.pool.queueSize >= this.maxQueue) {
      throw new Unavailable(`server full: ${this.pool.queueSize} ingest payloads wait for a decode thread (the queue holds ${this.maxQueue}); retry later`, 1);
    }
    this.inFlight++;
    let reply: DecodeReply;
    try {
      reply = await this.pool.run(task, handedOver(task));
    } finally {
      this.inFlight--;
    }
    return unpackReply(reply);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * A body its caller handed over (FormatTask.handOverBody), moved to the worker thread rather than
 * copied twice (serialized here, read back there: ≈ 0.1 ms of each thread's CPU per 90 KB pprof) —
 * only when it is alone in its buffer, for moving a buffer empties every view of it; push.v1's raw
 * profiles (PprofSeriesTask.handOverBodies) with the request buffer they are views into.
 */
function handedOver(task: DecodeTask): { transferList: ArrayBuffer[] } | undefined {
  if (task.kind === 'pprof-series' && task.handOverBodies === true) {
    // Views into a buffer the caller owns whole (PprofSeriesTask.handOverBodies): each buffer once.
    const buffers = new Set<ArrayBuffer>();
    for (const s of task.series) for (const raw of s.rawProfiles) if (raw.buffer instanceof ArrayBuffer) buffers.add(raw.buffer);
    return buffers.size > 0 ? { transferList: [...buffers] } : undefined;
  }
  if (task.kind !== 'format' || task.handOverBody !== true) return undefined;
  const { buffer, byteOffset, byteLength } = task.body;
  return buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength ? { transferList: [buffer] } : undefined;
}

/**
 * The worker's file next to this one: `.js` in the build (dist/server); from the TypeScript sources
 * (tsx, the tests) a small `.mjs` entry that registers tsx's loader in the worker thread first.
 */
function workerEntry(): { filename: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  return { filename: fileURLToPath(new URL(fromSource ? './decode-worker-source.mjs' : './decode-worker.js', import.meta.url)) };
}

const pools = new WeakMap<ServerContext, DecodePool>();

/** Makes `pool` the one that decodes this server's ingest payloads (startServer does it). */
export function attachDecodePool(ctx: ServerContext, pool: DecodePool): void {
  pools.set(ctx, pool);
  // Decodes in flight end as writes: the store may wait for them to commit them together. Their number,
  // not just "some": with one decode thread they end one at a time, ≈ 7 ms apart for an agent-sized pprof,
  // so "some" let a commit gather only what came within its 20 ms (≈ 3–4 writes of 8 in flight).
  announceWrites(ctx.store, () => pool.inFlight);
}

/** Decodes on the server's pool; a context without one (apps built for `inject` in tests) decodes inline. */
export function decodeOffLoop(ctx: ServerContext, task: DecodeTask): Promise<Decoded> {
  const pool = pools.get(ctx);
  // pprof decoders skip the symbols of stacks this store has, the rows push finds its stacks there
  // (the buffer is shared, not copied).
  const stored = storedStacksOf(ctx.store);
  const withStored = stored && (task.kind === 'format' || task.kind === 'pprof-series' || task.kind === 'kiln-rows') ? { ...task, storedStacks: { buffer: stored.buffer, id: stored.id } } : task;
  return pool ? pool.decode(withStored) : runDecodeTask(withStored);
}

export function decodePoolOf(ctx: ServerContext): DecodePool | undefined {
  return pools.get(ctx);
}
