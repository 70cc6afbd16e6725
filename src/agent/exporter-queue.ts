/**
 * A bounded FIFO of requests waiting to reach the server. While the server is down, requests wait
 * and are retried with exponential backoff; when the queue is full the oldest are dropped (and
 * counted) — recent profiles matter more during an incident than old ones.
 */

export interface Sized {
  readonly bytes: number;
}

export type SendOutcome = { readonly ok: true } | { readonly ok: false; readonly retry: boolean; readonly error: string };

export interface QueueOptions {
  /** Most requests kept; past it the oldest is dropped. */
  readonly maxItems: number;
  /** Most bytes kept; past it the oldest are dropped. */
  readonly maxBytes: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface QueueEvents<T> {
  sent?(item: T, ms: number): void;
  failed?(item: T, error: string, willRetry: boolean): void;
  dropped?(item: T): void;
}

export class RetryQueue<T extends Sized> {
  private readonly items: T[] = [];
  private bytesQueued = 0;
  private sending = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: (item: T) => Promise<SendOutcome>,
    private readonly opts: QueueOptions,
    private readonly events: QueueEvents<T> = {},
  ) {
    this.backoffMs = opts.initialBackoffMs;
  }

  get length(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.bytesQueued;
  }

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.bytesQueued += item.bytes;
    while (this.items.length > this.opts.maxItems || (this.bytesQueued > this.opts.maxBytes && this.items.length > 1)) {
      const old = this.items.shift()!;
      this.bytesQueued -= old.bytes;
      this.events.dropped?.(old);
    }
    // Sent from a microtask: the caller's own work (the agent's encode stage) ends before sending starts.
    if (!this.timer) queueMicrotask(() => void this.pump());
  }

  /** Resolves when the queue is empty, or after `timeoutMs` (retries then continue in the background). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.items.length === 0 && !this.sending) return true;
    if (this.timer) {
      // Waiting out a backoff: try once more now rather than give up with data queued.
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.pump();
    }
    let timeout: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      this.idleWaiters.push(() => resolve(true));
      timeout = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await done;
    clearTimeout(timeout);
    return ok;
  }

  /** Stops retrying; queued items are abandoned. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async pump(): Promise<void> {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      while (this.items.length > 0 && !this.closed) {
        const item = this.items[0]!;
        const t0 = performance.now();
        let outcome: SendOutcome;
        try {
          outcome = await this.send(item);
        } catch (e) {
          outcome = { ok: false, retry: true, error: (e as Error).message };
        }
        if (outcome.ok) {
          this.events.sent?.(item, performance.now() - t0);
        } else {
          this.events.failed?.(item, outcome.error, outcome.retry);
          if (outcome.retry) {
            this.scheduleRetry();
            return;
          }
        }
        // Sent or rejected for good: either way it leaves the queue (unless it was dropped meanwhile).
        if (this.items[0] === item) {
          this.items.shift();
          this.bytesQueued -= item.bytes;
        }
        this.backoffMs = this.opts.initialBackoffMs;
      }
      for (const w of this.idleWaiters.splice(0)) w();
    } finally {
      this.sending = false;
    }
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pump();
    }, wait);
    this.timer.unref();
  }
}
