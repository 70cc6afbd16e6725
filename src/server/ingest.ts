import type { FastifyInstance, FastifyRequest } from 'fastify';
import { gunzipStreaming } from '../formats/compression.js';
import { nameFromDisplayName } from '../formats/pprof-types.js';
import { InputError, isInputError } from '../model/errors.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import { parseTime } from '../query/time.js';
import type { ServerContext } from './context.js';
import { param } from './http-query.js';
import type { QueryParams } from './http-query.js';
import { parseIngestName } from './ingest-name.js';
import { readMultipartJfr, readMultipartProfile } from './multipart.js';
import type { SampleTypeConfig } from './multipart.js';
import { withIngestSlot } from './backpressure.js';
import { bodyLength, receiveBody, wholeBody } from './ingest-body.js';
import type { ReceivedBody } from './ingest-body.js';
import { decodeOffLoop } from './decode-pool.js';
import { limitsFor } from './limits.js';
import { tenantOf } from './tenant.js';
import { writeProfiles } from './write.js';


/** Pyroscope's default sampling rate for text formats that carry none. */
const DEFAULT_SAMPLE_RATE_HZ = 100;

const blankPeriod = (name: string, sampleType: string, sampleUnit: string): ProfileType => ({ name, sampleType, sampleUnit, periodType: '', periodUnit: '' });

/**
 * The Pyroscope Java agent's collapsed uploads (PYROSCOPE_FORMAT=collapsed) say what they hold by the
 * app name's suffix (`app.wall`, `app.alloc_in_new_tlab_bytes`, …), and Pyroscope types them by that
 * suffix alone (its ingest adapter's convertMetadata), with a blank period outside CPU and wall time.
 */
const SUFFIX_TYPES: Readonly<Record<string, { type: ProfileType; scaleByPeriod: boolean }>> = {
  wall: { type: { name: 'wall', sampleType: 'wall', sampleUnit: 'nanoseconds', periodType: 'cpu', periodUnit: 'nanoseconds' }, scaleByPeriod: true },
  alloc_in_new_tlab_objects: { type: blankPeriod('memory', 'alloc_in_new_tlab_objects', 'count'), scaleByPeriod: false },
  alloc_in_new_tlab_bytes: { type: blankPeriod('memory', 'alloc_in_new_tlab_bytes', 'bytes'), scaleByPeriod: false },
  alloc_outside_tlab_objects: { type: blankPeriod('memory', 'alloc_outside_tlab_objects', 'count'), scaleByPeriod: false },
  alloc_outside_tlab_bytes: { type: blankPeriod('memory', 'alloc_outside_tlab_bytes', 'bytes'), scaleByPeriod: false },
  lock_count: { type: blankPeriod('block', 'contentions', 'count'), scaleByPeriod: false },
  lock_duration: { type: blankPeriod('block', 'delay', 'nanoseconds'), scaleByPeriod: false },
  live: { type: blankPeriod('memory', 'live', 'count'), scaleByPeriod: false },
};

/**
 * The type of a text-format upload: the Java agent's suffix (SUFFIX_TYPES) when the name ends in one,
 * else `units` → the type the samples are stored as. CPU samples are stored as CPU time
 * (samples × period), as Pyroscope shows them, so they land next to pprof and agent CPU profiles.
 */
function textFormatType(units: string | undefined, name: string): { type: ProfileType; scaleByPeriod: boolean } {
  const suffix = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  if (Object.hasOwn(SUFFIX_TYPES, suffix)) return SUFFIX_TYPES[suffix]!;
  switch (units ?? 'samples') {
    case 'samples':
      return { type: { name: 'process_cpu', sampleType: 'cpu', sampleUnit: 'nanoseconds', periodType: 'cpu', periodUnit: 'nanoseconds' }, scaleByPeriod: true };
    case 'objects':
      return { type: { name: 'memory', sampleType: 'alloc_objects', sampleUnit: 'count', periodType: 'space', periodUnit: 'bytes' }, scaleByPeriod: false };
    case 'bytes':
      return { type: { name: 'memory', sampleType: 'alloc_space', sampleUnit: 'bytes', periodType: 'space', periodUnit: 'bytes' }, scaleByPeriod: false };
    case 'lock_samples':
      return { type: { name: 'mutex', sampleType: 'contentions', sampleUnit: 'count', periodType: 'contentions', periodUnit: 'count' }, scaleByPeriod: false };
    case 'lock_nanoseconds':
      return { type: { name: 'mutex', sampleType: 'delay', sampleUnit: 'nanoseconds', periodType: 'contentions', periodUnit: 'count' }, scaleByPeriod: false };
    case 'goroutines':
      return { type: { name: 'goroutines', sampleType: 'goroutine', sampleUnit: 'count', periodType: 'goroutine', periodUnit: 'count' }, scaleByPeriod: false };
    default:
      throw new InputError(`unknown units "${String(units).slice(0, 40)}": use samples, objects, bytes, lock_samples, lock_nanoseconds or goroutines`);
  }
}

function parseSampleRate(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_SAMPLE_RATE_HZ;
  const hz = Number(raw);
  if (!Number.isFinite(hz) || hz <= 0 || hz > 1e9) throw new InputError(`sampleRate "${raw.slice(0, 40)}" is not a positive number of Hz`);
  return hz;
}

/**
 * Pyroscope's legacy ingest: body = one profile in `format` (pprof raw/gzipped, folded, lines,
 * speedscope, perf …), or multipart/form-data with a `profile` file (+ `sample_type_config`) as
 * Pyroscope SDKs send pprof. Answers 200 `{profiles, rows}`; every problem is a 4xx before any write.
 */
export function registerIngest(app: FastifyInstance, ctx: ServerContext): void {
  // The body is read as raw bytes whatever its content type (SDKs send application/octet-stream,
  // curl sends x-www-form-urlencoded, speedscope comes as JSON), in the chunks it arrived in (ingest-body.ts),
  // with fastify's size cap and errors.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req, payload, done) => receiveBody(req, payload, ctx.limits.maxBodyBytes, done));

  // Counted here rather than in the handler so that requests fastify refuses itself (body over the
  // size limit) count too.
  app.addHook('onError', async (_req, _reply, err) => {
    const status = isInputError(err) ? err.status : (err as { statusCode?: number }).statusCode;
    const reason = status !== undefined && status >= 400 && status < 500 ? 'input' : 'internal';
    ctx.metrics.ingestErrors.inc({ protocol: 'ingest', reason });
  });

  app.post('/ingest', async (req, reply) => {
    const received = req.body as ReceivedBody | undefined;
    const bytes = received?.length ?? 0;
    ctx.metrics.ingestBytes.inc({ protocol: 'ingest' }, bytes);
    const tenant = tenantOf(req.headers);
    const result = await withIngestSlot(ctx, tenant, bytes, async () => {
      const profiles = await decodeIngest(req, received, ctx, tenant);
      const range = timeRange(profiles);
      // No await here: the decoded profiles must not stay alive until the commit (see writeProfiles).
      return writeProfiles(ctx, tenant, 'ingest', profiles).then((written) => ({ ...written, ...range }));
    });
    return reply.send(result);
  });
}

async function decodeIngest(req: FastifyRequest, received: ReceivedBody | undefined, ctx: ServerContext, tenant: string): Promise<Profile[]> {
  const limits = limitsFor(ctx, tenant);
  // Query parameters of Pyroscope's `POST /ingest` (plus Kiln's `profile_type`); spyName and
  // aggregationType are accepted and not needed.
  const params = req.query as QueryParams;
  const from = param(params, 'from');
  const until = param(params, 'until');
  const { name, labels } = parseIngestName(param(params, 'name'));
  const now = Date.now();
  const fromMs = from ? parseTime(from, now) : now;
  const untilMs = until ? parseTime(until, now) : fromMs;
  if (untilMs < fromMs) throw new InputError(`until (${until}) is before from (${from})`);
  const hz = parseSampleRate(param(params, 'sampleRate'));
  // The body's chunks as they arrived (see ReceivedBody), joined here only where this thread reads it.
  let body: Uint8Array | readonly Uint8Array[] = received?.chunks ?? [];
  // Inflated on the thread pool, not the event loop: other requests go on meanwhile.
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && /\bgzip\b/i.test(String(encoding))) body = await gunzipStreaming(wholeBody(body), limits.maxDecompressedBytes);

  let format = param(params, 'format');
  const contentType = String(req.headers['content-type'] ?? '');
  const multipart = contentType.toLowerCase().startsWith('multipart/form-data');
  if (format === 'jfr') {
    // The Pyroscope Java agent: raw JFR, or multipart with `jfr` and per-context `labels` parts.
    const parts = multipart ? await readMultipartJfr(wholeBody(body), contentType) : { jfr: wholeBody(body) };
    if (parts.jfr.length === 0) throw new InputError('empty JFR: nothing to ingest');
    const durationNs = (untilMs - fromMs) * 1e6;
    const task = { kind: 'jfr', ...parts, limits, labels, timeMs: fromMs, durationNs, periodNs: 1e9 / hz } as const;
    return (await decodeOffLoop(ctx, task)).profiles;
  }
  let sampleTypeConfig: SampleTypeConfig | undefined;
  if (multipart) {
    const part = await readMultipartProfile(wholeBody(body), contentType);
    body = part.profile;
    sampleTypeConfig = part.sampleTypeConfig;
    format ??= 'pprof';
  }
  format ??= 'folded';
  if (bodyLength(body) === 0) throw new InputError('empty request body: nothing to ingest');

  const isText = format === 'folded' || format === 'lines' || format === 'perf' || format === 'collapsed';
  const typeParam = param(params, 'profile_type');
  const explicitType = typeParam ? parseProfileType(typeParam) : undefined;
  const textType = isText && !explicitType ? textFormatType(param(params, 'units'), name) : undefined;
  const periodNs = 1e9 / hz;
  // Inflated (a gzipped pprof) and decoded on a worker thread, with the decode-time limits checked as it reads;
  // a body still in chunks is joined there. The body is not read after this: its memory may move to the decode thread.
  const { profiles: decoded } = await decodeOffLoop(ctx, { kind: 'format', format, body, limits, name, labels, timeMs: fromMs, type: explicitType ?? textType?.type, handOverBody: true });
  // restamp=1 (`kiln ingest --now`, Pyroscope's profilecli --override-timestamp): the file's own time is
  // replaced by from (default now), so an old capture lands where the default views look.
  const restamp = param(params, 'restamp') === '1' || param(params, 'restamp') === 'true';
  return decoded.map((p) => {
    let out: Profile = restamp ? { ...p, timeMs: fromMs } : p;
    if (isText) {
      // Text formats carry no window or period: take them from from/until/sampleRate.
      out = { ...out, timeMs: fromMs, durationNs: (untilMs - fromMs) * 1e6, period: out.period || (textType ? periodNs : 0) };
      if (textType?.scaleByPeriod) out = { ...out, values: out.values.map((v) => Math.round(v * periodNs)) };
    } else if (out.durationNs === 0 && untilMs > fromMs) {
      out = { ...out, durationNs: (untilMs - fromMs) * 1e6 };
    }
    return sampleTypeConfig ? applySampleTypeConfig(out, sampleTypeConfig) : out;
  });
}

/**
 * The window the stored profiles cover (Unix ms), so a client can say where to look: a file dated by its
 * own timestamp may be days old, outside every default view.
 */
function timeRange(profiles: readonly Profile[]): { fromMs?: number; untilMs?: number; types?: string[] } {
  if (profiles.length === 0) return {};
  let from = Infinity;
  let until = -Infinity;
  const types = new Set<string>();
  for (const p of profiles) {
    from = Math.min(from, p.timeMs);
    until = Math.max(until, p.timeMs + Math.round(p.durationNs / 1e6));
    types.add(profileTypeId(p.type));
  }
  return { fromMs: from, untilMs: until, types: [...types] };
}

/**
 * `display-name` in sample_type_config chooses the profile type name and leaves the sample type as it
 * is, as Pyroscope reads it (formats/pprof-types.ts): a Go SDK block profile is `block:delay:…`.
 */
function applySampleTypeConfig(p: Profile, config: SampleTypeConfig): Profile {
  const name = nameFromDisplayName(p.type.sampleType, config);
  return name ? { ...p, type: { ...p.type, name } } : p;
}
