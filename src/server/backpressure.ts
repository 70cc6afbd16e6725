import { InputError, Unavailable } from '../model/errors.js';
import type { ServerContext } from './context.js';
import { limitsFor } from './limits.js';

/**
 * A 429: this tenant is over its own rate or queue. Only this tenant is refused; `Retry-After` says when
 * to come back (errors.ts sends it, as a header on HTTP and as metadata on Connect).
 */
export class TooManyRequests extends InputError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, 429);
  }
}

/** Token bucket of ingest bytes: refills at `rate` per second up to `rate × burst`. */
class Bucket {
  private tokens: number;
  private at = Date.now();
  constructor(
    private rate: number,
    private burst: number,
  ) {
    this.tokens = rate * burst;
  }

  /** Takes `n` bytes, or returns the seconds until they would be there. A request larger than the whole burst passes when the bucket is full (and empties it). */
  take(n: number, rate: number, burst: number): number {
    const now = Date.now();
    this.rate = rate;
    this.burst = burst;
    const cap = rate * burst;
    this.tokens = Math.min(cap, this.tokens + ((now - this.at) / 1000) * rate);
    this.at = now;
    if (this.tokens >= Math.min(n, cap)) {
      this.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((Math.min(n, cap) - this.tokens) / rate));
  }
}

/**
 * Bounded ingest: each request holds a slot while it is decoded and written. Per tenant past
 * maxPendingWritesPerTenant → 429 for that tenant only; past the server's maxPendingWrites → 503 for
 * everyone (server full). That bounds memory to slots × the worst accepted request and keeps the store's
 * write queue short, so reads stay fast.
 */
class IngestGate {
  private total = 0;
  private readonly pending = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly ctx: ServerContext) {}

  admit(tenant: string, bytes: number): () => void {
    const limits = limitsFor(this.ctx, tenant);
    const mine = this.pending.get(tenant) ?? 0;
    if (mine >= limits.maxPendingWritesPerTenant) {
      throw new TooManyRequests(`tenant ${tenant} has ${mine} ingest requests in progress, the limit max_pending_writes_per_tenant; retry later`, 1);
    }
    if (this.total >= this.ctx.limits.maxPendingWrites) {
      throw new Unavailable(`server full: ${this.total} ingest requests in progress (max_pending_writes); retry later`, 1);
    }
    if (limits.ingestBytesPerSecond > 0) {
      let bucket = this.buckets.get(tenant);
      if (!bucket) this.buckets.set(tenant, (bucket = new Bucket(limits.ingestBytesPerSecond, limits.ingestBurstSeconds)));
      const wait = bucket.take(bytes, limits.ingestBytesPerSecond, limits.ingestBurstSeconds);
      if (wait > 0) throw new TooManyRequests(`tenant ${tenant} is over its ingest rate (ingest_bytes_per_second ${limits.ingestBytesPerSecond}); retry in ${wait} s`, wait);
    }
    this.total++;
    this.pending.set(tenant, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.pending.get(tenant) ?? 1) - 1;
      if (n === 0) this.pending.delete(tenant);
      else this.pending.set(tenant, n);
    };
  }
}

const gates = new WeakMap<ServerContext, IngestGate>();

/** Runs one ingest request (decode + write) in a slot of its tenant, or refuses it with 429/503 at once. */
export async function withIngestSlot<T>(ctx: ServerContext, tenant: string, bytes: number, work: () => Promise<T>): Promise<T> {
  let gate = gates.get(ctx);
  if (!gate) gates.set(ctx, (gate = new IngestGate(ctx)));
  const release = gate.admit(tenant, bytes);
  try {
    return await work();
  } finally {
    release();
  }
}
