import { DecodeBudget, PprofPrescan, checkSeriesLabels } from '../formats/decode-limits.js';
import { InputError } from '../model/errors.js';
import type { DecodeLimits } from '../formats/decode-limits.js';
import { gunzipBounded, gunzipStreaming } from '../formats/compression.js';
import { LABEL_LIMITS } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ServerContext } from './context.js';

/**
 * Limits that may differ per tenant (`limits:` in the server config, `tenants:` overrides). Each is
 * checked where its cost would start: decode-time ones while the payload is read (decode-limits.ts),
 * series ones before the write, rate and queue ones before the decode (backpressure.ts).
 */
export interface TenantLimits extends DecodeLimits {
  /** Bytes after decompression (gzip bodies, gzipped pprof): the zip-bomb cap. */
  readonly maxDecompressedBytes: number;
  /** Distinct series a tenant may hold (limits-series.ts); 0: unlimited. */
  readonly maxSeriesPerTenant: number;
  /** Ingest body bytes per second, averaged over a burst of `ingestBurstSeconds`; 0: unlimited. */
  readonly ingestBytesPerSecond: number;
  readonly ingestBurstSeconds: number;
  /** Ingest requests of one tenant being decoded or written at once; past it 429. */
  readonly maxPendingWritesPerTenant: number;
  /** Reads of one tenant running at once; past it 429. */
  readonly maxConcurrentQueries: number;
}

/**
 * Sized for an agent batching a few hundred processes per push (a few thousand distinct stacks each)
 * and for the largest SDK heap profiles seen (~200 000 samples), with room to spare; the worst request
 * they accept is measured in docs/BENCHMARKS.md.
 */
export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  maxDecompressedBytes: 64 * 1024 * 1024,
  maxSamplesPerProfile: 500_000,
  // A node's CPU samples for one push are far fewer (19 Hz × 64 CPUs × 10 s ≈ 12 000); what this bounds
  // is memory: a parsed OTLP sample costs ≈ 440 bytes (an OTLP request of 9 million peaked at 4 GiB).
  maxSamplesPerRequest: 1_000_000,
  maxStacksPerRequest: 100_000,
  maxFramesPerRequest: 16_000_000,
  maxStackDepth: 4096,
  // An agent's push of a few hundred processes holds tens of thousands of locations and strings.
  maxSymbolsPerRequest: 1_000_000,
  maxLabelsPerSeries: LABEL_LIMITS.maxLabels,
  // The model's own ceilings (LABEL_LIMITS): a tenant may be held lower, never higher.
  maxLabelNameLength: LABEL_LIMITS.maxNameLength,
  maxLabelValueLength: LABEL_LIMITS.maxValueLength,
  // A node agent makes a series per process (pid is a label): 1 000 nodes running 200 processes each,
  // with a day's churn, stay well below; a label holding request ids reaches it within hours.
  maxSeriesPerTenant: 1_000_000,
  ingestBytesPerSecond: 0,
  ingestBurstSeconds: 10,
  maxPendingWritesPerTenant: 16,
  maxConcurrentQueries: 16,
};

/**
 * The largest OTLP Export message taken over gRPC, Connect and gRPC-web: gRPC's own default receive
 * size, which OTLP senders already keep under (the OpenTelemetry Collector's receiver has the same
 * default). Connect parses a message into objects before any handler or limit sees it, and a parsed
 * OTLP request takes ≈ 65 times its bytes (a 64 MiB one of 9 million samples peaked at 4 GiB), so
 * this is what bounds that path; OTLP/HTTP is checked on its bytes first and keeps max_body.
 */
export const OTLP_GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The config's `limits:` section as read: defaults for everyone, then per-tenant overrides. */
export interface LimitsConfig {
  readonly defaults: Partial<TenantLimits>;
  readonly tenants: Readonly<Record<string, Partial<TenantLimits>>>;
}

const resolved = new WeakMap<LimitsConfig, Map<string, TenantLimits>>();

/** A tenant's limits under the live config (a reload applies to the next request). */
export function limitsFor(ctx: ServerContext, tenant: string): TenantLimits {
  const cfg = ctx.config?.().limits;
  if (!cfg) return ctx.limits;
  let perTenant = resolved.get(cfg);
  if (!perTenant) resolved.set(cfg, (perTenant = new Map()));
  let out = perTenant.get(tenant);
  if (!out) {
    out = { ...ctx.limits, ...cfg.defaults, ...cfg.tenants[tenant] };
    perTenant.set(tenant, out);
  }
  return out;
}

/** A fresh per-request budget for the decode-time limits. */
export function decodeBudget(limits: TenantLimits): DecodeBudget {
  return new DecodeBudget(limits);
}

/**
 * Inflated pprofs up to this size are inflated in one call; larger ones stream. An agent's push is
 * ≈ 230 KiB inflated: the stream's chunks, events and thread-pool hop cost more than the inflating
 * itself for it. A bomb then costs at most this much inflating before it streams.
 */
const INFLATE_AT_ONCE_BYTES = 1024 * 1024;

/**
 * Inflates a (possibly gzipped) pprof for the decoder, which checks every decode-time limit exactly as
 * it reads (DecodeBudget). A body that inflates past INFLATE_AT_ONCE_BYTES is inflated again off the
 * event loop chunk by chunk with PprofPrescan counting its samples, stacks and symbols, so a bomb is
 * refused after inflating only up to the limit it breaks. A smaller one is not prescanned: the prescan
 * only exists to stop inflating early, and walking an agent push's fields twice cost ≈ 1–2 ms of it
 * (the decode thread's CPU profile, bench/server-ingest.ts).
 */
export async function inflatePprof(data: Uint8Array, limits: TenantLimits, atOnce?: InflateAtOnce): Promise<Uint8Array> {
  const counter = new PprofPrescan(limits.maxSamplesPerProfile, limits.maxStacksPerRequest, limits.maxSymbolsPerRequest);
  const whole = await inflateBody(data, limits.maxDecompressedBytes, (chunk) => counter.push(chunk), atOnce);
  // A body sent uncompressed comes back as is, whatever its size: past INFLATE_AT_ONCE_BYTES it is prescanned.
  if (whole === data && whole.length > Math.min(INFLATE_AT_ONCE_BYTES, limits.maxDecompressedBytes)) counter.push(whole);
  return whole;
}

/** How a body is inflated in one call (gunzipBounded, or a decode thread's GunzipInto). */
export type InflateAtOnce = (data: Uint8Array, maxBytes: number) => Uint8Array;

/**
 * A (possibly gzipped) body inflated up to `maxBytes`: in one call when it inflates to at most
 * INFLATE_AT_ONCE_BYTES, else again off the event loop chunk by chunk, each chunk shown to `inspect`.
 */
export async function inflateBody(data: Uint8Array, maxBytes: number, inspect?: (chunk: Uint8Array) => void, inflateAtOnce: InflateAtOnce = gunzipBounded): Promise<Uint8Array> {
  const atOnce = Math.min(INFLATE_AT_ONCE_BYTES, maxBytes);
  try {
    return inflateAtOnce(data, atOnce);
  } catch (e) {
    // Only "inflates past atOnce" streams; broken gzip, or past the real cap, is answered now.
    if (!(e instanceof InputError && e.status === 413) || atOnce === maxBytes) throw e;
    return gunzipStreaming(data, maxBytes, inspect);
  }
}

/** Label-count and label-size limits of every profile's series → 400. */
export function checkSeriesLimits(profiles: readonly Profile[], limits: TenantLimits): void {
  for (const p of profiles) checkSeriesLabels(p.labels, limits);
}
