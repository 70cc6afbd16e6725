import type { DecodeLimits } from '../formats/decode-limits.js';
import { EmptyProfileError } from '../formats/empty-profile.js';
import { GunzipInto, gunzipBounded } from '../formats/compression.js';
import type { ExportProfilesServiceRequest } from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { decodeOtlpEach, parseOtlpJson, parseOtlpProtobuf } from '../formats/otlp.js';
// Registers format=otlp, so POST /ingest?format=otlp decodes wherever this module runs (a worker too).
import '../formats/otlp-format.js';
import { decodeJfrUpload } from '../formats/jfr.js';
import { decodePprofForStore } from './pprof-ingest.js';
import { decodeKilnRows, hexId } from './kiln-rows-decode.js';
import { StoredStacks } from '../store/stored-stacks.js';
import { decodeProfiles } from '../formats/registry.js';
import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import { labelsFrom } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import type { SymbolDictionary } from '../model/symbols.js';
import { validateProfile } from '../model/validate.js';
import type { TenantLimits } from './limits.js';
import { decodeBudget, inflatePprof } from './limits.js';
import { bodyLength, joinChunks, wholeBody } from './ingest-body.js';

/**
 * The decoding every ingest protocol needs, as plain data in and out so it can run on a worker thread
 * (decode-pool.ts) or, with no pool, on the event loop: the same function either way. Tasks carry the
 * raw bytes and the tenant's limits; the decode-time limits are checked here, while reading.
 */
export type DecodeTask = FormatTask | PprofSeriesTask | OtlpTask | JfrTask | KilnRowsTask;

/** One body in a named format (`POST /ingest`): pprof (maybe gzipped), folded, lines, perf, speedscope, otlp. */
export interface FormatTask {
  readonly kind: 'format';
  readonly format: string;
  /**
   * The body, or the chunks it arrived in, end to end (`POST /ingest`: joined on the thread that decodes,
   * into a buffer that thread keeps, not on the event loop; see ingest-body.ts).
   */
  readonly body: Uint8Array | readonly Uint8Array[];
  readonly limits: TenantLimits;
  readonly name?: string;
  readonly labels?: Labels;
  readonly timeMs?: number;
  readonly type?: ProfileType;
  /** The store's stored stacks (stored-stacks.ts): a pprof's symbols are built only for the others. */
  readonly storedStacks?: SharedStoredStacks;
  /**
   * The caller reads `body` no more: a decode thread may take its memory instead of a copy, when the
   * body (each chunk) is alone in its buffer (decode-pool.ts); `body` is then empty on this thread.
   */
  readonly handOverBody?: boolean;
}

/** A Pyroscope Java agent upload (`format=jfr`): the recording, its per-context labels, the upload's window and sample rate. */
export interface JfrTask {
  readonly kind: 'jfr';
  readonly jfr: Uint8Array;
  readonly contextLabels?: Uint8Array;
  readonly limits: TenantLimits;
  readonly labels: Labels;
  readonly timeMs: number;
  readonly durationNs: number;
  readonly periodNs: number;
}

/** pprof profiles grouped by series, as push.v1 and Parca's WriteRaw carry them; one budget for the request. */
export interface PprofSeriesTask {
  readonly kind: 'pprof-series';
  readonly series: readonly PprofSeries[];
  readonly limits: TenantLimits;
  readonly storedStacks?: SharedStoredStacks;
  /**
   * The caller reads the raw profiles no more, and the buffers they are views into hold nothing else it
   * needs (push.ts: a Connect request's body, read into a buffer of its own): a decode thread may take
   * those buffers instead of a copy (decode-pool.ts); the views are then empty on this thread.
   */
  readonly handOverBodies?: boolean;
}

/** A StoredStacks as it travels to a decode worker: its buffer (shared, not copied) and its number. */
export interface SharedStoredStacks {
  readonly buffer: SharedArrayBuffer;
  readonly id: number;
}

export interface PprofSeries {
  readonly labels: Labels;
  /** `__name__` as sent: names the profile type when a pprof measures one kind of thing. */
  readonly typeName?: string;
  readonly rawProfiles: readonly Uint8Array[];
}

/** An OTLP/HTTP body (protobuf or JSON, maybe gzipped): each OTLP profile decoded and validated on its own. */
export interface OtlpTask {
  readonly kind: 'otlp';
  readonly encoding: 'protobuf' | 'json';
  readonly body: Uint8Array;
  readonly gzipped: boolean;
  readonly limits: TenantLimits;
}

/** A Kiln rows push (formats/kiln-rows.ts), maybe gzipped. */
export interface KilnRowsTask {
  readonly kind: 'kiln-rows';
  readonly body: Uint8Array;
  readonly gzipped: boolean;
  readonly limits: TenantLimits;
  readonly storedStacks?: SharedStoredStacks;
}

/** What a task decoded to: profiles, and for OTLP the profiles refused (partial success). */
export interface Decoded {
  readonly profiles: Profile[];
  /** `where: why` of each refused OTLP profile. */
  readonly rejected: string[];
  /** A Kiln rows push: stacks its rows name that are neither sent nor stored (16 hex digits each); then no profiles. */
  readonly missingStacks?: string[];
}

const TYPE_NAME = /^[A-Za-z0-9_.\-]+$/;
const NAME_LABEL = '__name__';

/**
 * A series of push.v1 or Parca's WriteRaw as the task takes it: `__name__` names the profile type,
 * other labels starting with __ are the pusher's own (`__delta__`, `__period_type__` …), not series identity.
 */
export function pprofSeries(labels: readonly { name: string; value: string }[], samples: readonly { rawProfile: Uint8Array }[]): PprofSeries {
  let typeName: string | undefined;
  const pairs: [string, string][] = [];
  for (const l of labels) {
    if (l.name === NAME_LABEL) typeName = l.value;
    else if (!l.name.startsWith('__')) pairs.push([l.name, l.value]);
  }
  return { labels: labelsFrom(pairs), typeName, rawProfiles: samples.map((s) => s.rawProfile) };
}

export async function runDecodeTask(task: DecodeTask): Promise<Decoded> {
  switch (task.kind) {
    case 'format':
      return { profiles: await decodeFormat(task), rejected: [] };
    case 'pprof-series':
      return { profiles: await decodePprofSeries(task), rejected: [] };
    case 'jfr': {
      const { jfr, contextLabels, limits, ...opts } = task;
      return { profiles: decodeJfrUpload(jfr, contextLabels, { ...opts, budget: decodeBudget(limits) }, limits.maxDecompressedBytes), rejected: [] };
    }
    case 'kiln-rows': {
      const { profiles, missing } = await decodeKilnRows(task.body, task.gzipped, task.limits, storedStacks(task.storedStacks));
      return { profiles, rejected: [], ...(missing.length > 0 ? { missingStacks: missing.map(hexId) } : {}) };
    }
    case 'otlp':
      return decodeOtlpRequest(task.encoding === 'json' ? parseOtlpJson(new TextDecoder().decode(otlpBody(task)), task.limits) : parseOtlpProtobuf(otlpBody(task), task.limits), task.limits);
  }
}

/**
 * Decoders reject a well-formed profile that holds no samples (right for `kiln ingest`, where it is a
 * mistake). SDKs send those for idle periods and Pyroscope answers 200, so ingest endpoints turn that
 * one rejection into "nothing to store". Any other problem stays an error.
 */
export function decodeAllowingEmpty<T>(decode: () => T[]): T[] {
  try {
    return decode();
  } catch (e) {
    if (e instanceof EmptyProfileError) return [];
    throw e;
  }
}

async function decodeFormat(t: FormatTask): Promise<Profile[]> {
  const opts = { name: t.name, labels: t.labels, timeMs: t.timeMs, type: t.type, maxDecompressed: t.limits.maxDecompressedBytes, budget: decodeBudget(t.limits) };
  if (t.format !== 'pprof') return decodeAllowingEmpty(() => decodeProfiles(t.format, wholeBody(t.body), opts));
  // pprof reduced for the store as it is read (content ids from the wire bytes; server/pprof-ingest.ts).
  return joinedBodies.use(t.body, (whole) => inflatedPprof(whole, t.limits, (body) => decodeAllowingEmpty(() => decodePprofForStore(body, opts, storedStacks(t.storedStacks)))));
}

/**
 * The thread's buffer for joining a pprof body's chunks (an agent-sized push: ≈ 93 KB in two), kept so that
 * joining touches no fresh memory. Lent to one decode at a time, as `inflated` below; a body past
 * KEPT_JOIN_BYTES, or a second decode meanwhile, is joined into a buffer of its own.
 */
const KEPT_JOIN_BYTES = 1 << 20;
class ChunkJoiner {
  private kept = new Uint8Array(0);
  private lent = false;

  async use<T>(body: Uint8Array | readonly Uint8Array[], decode: (whole: Uint8Array) => Promise<T>): Promise<T> {
    if (body instanceof Uint8Array || body.length === 1) return decode(wholeBody(body));
    const length = bodyLength(body);
    if (this.lent || length > KEPT_JOIN_BYTES) return decode(wholeBody(body));
    if (this.kept.length < length) this.kept = new Uint8Array(Math.min(KEPT_JOIN_BYTES, Math.max(length, 2 * this.kept.length)));
    this.lent = true;
    try {
      return await decode(joinChunks(body, this.kept.subarray(0, length)));
    } finally {
      this.lent = false;
    }
  }
}
const joinedBodies = new ChunkJoiner();

/**
 * The thread's buffer for inflated pprofs (GunzipInto): an agent-sized push inflates to ≈ 230 KiB, which
 * were an ArrayBuffer of garbage per request. Lent to one decode at a time — without a pool, tasks
 * interleave on the event loop at their awaits — and another decode meanwhile inflates as before.
 */
const inflated = new GunzipInto();
let inflatedLent = false;

/** `decode` of the inflated pprof `body` (inflatePprof's limits), inflated into the thread's buffer when it is free; the bytes are not kept past `decode`. */
async function inflatedPprof<T>(body: Uint8Array, limits: TenantLimits, decode: (raw: Uint8Array) => T): Promise<T> {
  if (inflatedLent) return decode(await inflatePprof(body, limits));
  inflatedLent = true;
  try {
    return decode(await inflatePprof(body, limits, (data, maxBytes) => inflated.inflate(data, maxBytes)));
  } finally {
    inflatedLent = false;
  }
}

function storedStacks(shared: SharedStoredStacks | undefined): StoredStacks | undefined {
  return shared ? new StoredStacks(shared.buffer, shared.id) : undefined;
}

/** The whole request is decoded before anything is written: a bad sample in series 3 fails series 1 and 2 too. */
async function decodePprofSeries(t: PprofSeriesTask): Promise<Profile[]> {
  const out: Profile[] = [];
  // One budget for the whole request: distinct stacks and frames add up across its series.
  const budget = decodeBudget(t.limits);
  const stored = storedStacks(t.storedStacks);
  for (const [i, series] of t.series.entries()) {
    for (const rawProfile of series.rawProfiles) {
      if (rawProfile.length === 0) throw new InputError(`series ${i}: empty raw_profile`);
      const profiles = await inflatedPprof(rawProfile, t.limits, (raw) => decodeAllowingEmpty(() => decodePprofForStore(raw, { labels: series.labels, budget }, stored)));
      // __name__ names the whole profile; apply it only when the profile measures one kind of thing.
      const name = series.typeName;
      const single = new Set(profiles.map((p) => p.type.name)).size === 1;
      for (const p of profiles) out.push(name && single && TYPE_NAME.test(name) ? { ...p, type: { ...p.type, name } } : p);
    }
  }
  return out;
}

function otlpBody(t: OtlpTask): Uint8Array {
  return t.gzipped ? gunzipBounded(t.body, t.limits.maxDecompressedBytes) : t.body;
}

/**
 * Each OTLP profile decoded and validated on its own: OTLP's partial success accepts the good ones and
 * reports the rest. Used for gRPC too, where Connect has already parsed the request.
 */
export function decodeOtlpRequest(req: ExportProfilesServiceRequest, limits: DecodeLimits): Decoded {
  const profiles: Profile[] = [];
  const rejected: string[] = [];
  // The profiles of a request share its dictionary: check that once, not once per profile.
  const checked = new Set<SymbolDictionary>();
  for (const r of decodeOtlpEach(req, { limits })) {
    try {
      if (r.error) throw r.error;
      for (const p of r.profiles) validateProfile(p, checked);
      profiles.push(...r.profiles);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      rejected.push(`${r.where}: ${e.message}`);
    }
  }
  return { profiles, rejected };
}
