import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Unavailable } from '../model/errors.js';
import { storedStacksOf } from '../store/stored-stacks.js';
import { announceWrites } from '../store/write-hints.js';
import type { ServerContext } from './context.js';
import type { DecodeTask, Decoded } from './decode-tasks.js';
import { runDecodeTask } from './decode-tasks.js';
import type { DecodeReply } from './decode-transfer.js';
import { unpackReply } from './decode-transfer.js';
import type { ThreadAnswer, ThreadRequest } from './decode-thread.js';

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

/** A task handed to the pool and not yet answered: what to send, and whom to tell. */
interface Job {
  readonly task: DecodeTask;
  readonly resolve: (reply: DecodeReply) => void;
  readonly reject: (e: Error) => void;
}

/**
 * Decode threads fed one task at a time each, by plain messages: the task (its body moved, not copied,
 * when handed over) and back the packed reply, its typed arrays moved. A task waits here, not in a
 * thread, while every thread is busy. This was Piscina until stop 27; a task cost its bookkeeping on the
 * main thread (task objects, histograms, the balancer, an async resource per task) besides the two
 * messages every hand-off needs (docs/BENCHMARKS.md).
 */
class WorkerDecodePool implements DecodePool {
  private readonly idle: DecodeThread[] = [];
  private readonly waiting: Job[] = [];
  private readonly live = new Set<DecodeThread>();
  private closed = false;
  inFlight = 0;

  constructor(
    readonly threads: number,
    private readonly maxQueue: number,
  ) {
    for (let i = 0; i < threads; i++) this.spawn();
  }

  get queued(): number {
    return this.waiting.length;
  }

  async decode(task: DecodeTask): Promise<Decoded> {
    if (this.closed) throw new Error('the decode pool is closed');
    if (this.waiting.length >= this.maxQueue) {
      throw new Unavailable(`server full: ${this.waiting.length} ingest payloads wait for a decode thread (the queue holds ${this.maxQueue}); retry later`, 1);
    }
    // Threads lost to a failed start are started again here, when work comes, not in a loop.
    while (this.live.size < this.threads) this.spawn();
    this.inFlight++;
    let reply: DecodeReply;
    try {
      reply = await new Promise<DecodeReply>((resolve, reject) => {
        const job = { task, resolve, reject };
        const thread = this.idle.pop();
        if (thread) thread.run(job);
        else this.waiting.push(job);
      });
    } finally {
      this.inFlight--;
    }
    return unpackReply(reply);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('the decode pool is closed'));
    this.idle.length = 0;
    await Promise.all([...this.live].map((t) => t.stop()));
  }

  private spawn(): void {
    const thread = new DecodeThread((t) => this.next(t), (t, answered, e) => this.lost(t, answered, e));
    this.live.add(thread);
    this.next(thread);
  }

  /** A thread is free: it takes the oldest waiting task, or waits itself. */
  private next(thread: DecodeThread): void {
    if (this.closed) return;
    const job = this.waiting.shift();
    if (job) thread.run(job);
    else this.idle.push(thread);
  }

  /**
   * A thread died (its task, if any, was refused). One that had answered before is replaced at once; one
   * that never did (it could not start) is replaced by the next decode, and the waiting tasks are refused
   * with its error rather than handed to a thread that would fail the same way.
   */
  private lost(thread: DecodeThread, answeredBefore: boolean, e: Error): void {
    this.live.delete(thread);
    const at = this.idle.indexOf(thread);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.closed) return;
    if (answeredBefore) this.spawn();
    else if (this.live.size === 0) for (const job of this.waiting.splice(0)) job.reject(e);
  }
}

/** One worker thread and the task it is decoding, if any. */
class DecodeThread {
  private readonly worker: Worker;
  private job: Job | undefined;
  private nextId = 0;
  private stopping = false;
  private gone = false;
  private answeredBefore = false;

  constructor(
    private readonly free: (t: DecodeThread) => void,
    private readonly lost: (t: DecodeThread, answeredBefore: boolean, e: Error) => void,
  ) {
    this.worker = new Worker(workerEntry().filename);
    // An idle pool does not keep the process alive; a task in flight does (run, answer).
    this.worker.unref();
    this.worker.on('message', (answer: ThreadAnswer) => this.answered(answer));
    this.worker.on('error', (e) => this.died(e));
    this.worker.on('exit', (code) => this.died(new Error(`a decode thread exited (code ${code})`)));
  }

  run(job: Job): void {
    this.job = job;
    this.worker.ref();
    try {
      this.worker.postMessage({ id: ++this.nextId, task: job.task } satisfies ThreadRequest, handedOver(job.task)?.transferList);
    } catch (e) {
      // The task would not clone (a bug: tasks are plain data): refused, the thread stays free.
      this.settle();
      job.reject(e instanceof Error ? e : new Error(String(e)));
      this.free(this);
    }
  }

  stop(): Promise<number> {
    this.stopping = true;
    return this.worker.terminate();
  }

  private settle(): Job | undefined {
    const job = this.job;
    this.job = undefined;
    this.worker.unref();
    return job;
  }

  private answered(answer: ThreadAnswer): void {
    if (answer.id !== this.nextId) return; // not the task in flight (cannot happen: one at a time)
    this.answeredBefore = true;
    const job = this.settle();
    if (job) {
      if ('error' in answer) job.reject(Object.assign(new Error(answer.error.message), { stack: answer.error.stack }));
      else job.resolve(answer.reply as DecodeReply);
    }
    this.free(this);
  }

  private died(e: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.settle()?.reject(this.stopping ? new Error('the decode pool is closed') : e);
    if (!this.stopping) this.lost(this, this.answeredBefore, e);
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
  // The body, or each of its chunks (ingest-body.ts), alone in its buffer: else all are copied.
  const parts = task.body instanceof Uint8Array ? [task.body] : task.body;
  const transferList: ArrayBuffer[] = [];
  for (const { buffer, byteOffset, byteLength } of parts) {
    if (!(buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) || transferList.includes(buffer)) return undefined;
    transferList.push(buffer);
  }
  return transferList.length > 0 ? { transferList } : undefined;
}

/**
 * The worker's file next to this one: `.js` in the build (dist/server); from the TypeScript sources
 * (tsx, the tests) a small `.mjs` entry that registers tsx's loader in the worker thread first.
 */
function workerEntry(): { filename: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  return { filename: fileURLToPath(new URL(fromSource ? './decode-thread-source.mjs' : './decode-thread.js', import.meta.url)) };
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
