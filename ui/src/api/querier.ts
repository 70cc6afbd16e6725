import { authFetch } from './auth.js';
/**
 * Client for `querier.v1.QuerierService` over Connect — profile types, labels, series and the pprof
 * download (graphs, tables and diffs come from Kiln's own API, kiln.ts): JSON for everything but the pprof
 * download, which asks for protobuf so the response body *is* the pprof file. Field names follow the proto's JSON mapping
 * (profile_typeID → profileTypeID); int64 go out as strings, as proto3 JSON writes them.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface ProfileTypeJson {
  ID: string;
  name?: string;
  sampleType?: string;
  sampleUnit?: string;
  periodType?: string;
  periodUnit?: string;
}

export interface LabelPairJson {
  name: string;
  value: string;
}

export interface SeriesJson {
  labels?: LabelPairJson[];
  points?: { value?: number; timestamp?: string | number }[];
}

export interface Selection {
  profileTypeID: string;
  labelSelector: string;
  start: number;
  end: number;
}

const SERVICE = 'querier.v1.QuerierService';

async function errorFrom(method: string, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let message = text || res.statusText || `HTTP ${res.status}`;
  let code = `http_${res.status}`;
  try {
    const j = JSON.parse(text) as { message?: string; code?: string };
    if (j.message) message = j.message;
    if (j.code) code = j.code;
  } catch {
    // Not a Connect error body (a proxy's HTML page, say): show its text as is.
  }
  return new ApiError(`${method}: ${message}`, code);
}

async function call<T>(method: string, body: object, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await authFetch(`/${SERVICE}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'connect-protocol-version': '1' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`${method}: cannot reach the Kiln server (${(e as Error).message})`, 'unavailable');
  }
  if (!res.ok) throw await errorFrom(method, res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

const range = (start: number, end: number) => ({ start: String(start), end: String(end) });

export async function profileTypes(start: number, end: number, signal?: AbortSignal): Promise<ProfileTypeJson[]> {
  const r = await call<{ profileTypes?: ProfileTypeJson[] }>('ProfileTypes', range(start, end), signal);
  return r.profileTypes ?? [];
}

export async function labelNames(matchers: string[], start: number, end: number, signal?: AbortSignal): Promise<string[]> {
  const r = await call<{ names?: string[] }>('LabelNames', { matchers, ...range(start, end) }, signal);
  return r.names ?? [];
}

export async function labelValues(
  name: string,
  matchers: string[],
  start: number,
  end: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const r = await call<{ names?: string[] }>('LabelValues', { name, matchers, ...range(start, end) }, signal);
  return r.names ?? [];
}

export async function selectSeries(
  sel: Selection,
  groupBy: string[],
  step: number,
  signal?: AbortSignal,
): Promise<SeriesJson[]> {
  const r = await call<{ series?: SeriesJson[] }>(
    'SelectSeries',
    { ...selJson(sel), groupBy, step },
    signal,
  );
  return r.series ?? [];
}

function selJson(sel: Selection) {
  return { profileTypeID: sel.profileTypeID, labelSelector: sel.labelSelector, ...range(sel.start, sel.end) };
}

/** SelectMergeProfile over Connect protobuf: the response body is an uncompressed pprof Profile. */
export async function mergedPprof(sel: Selection): Promise<Uint8Array> {
  const res = await authFetch(`/${SERVICE}/SelectMergeProfile`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto', 'connect-protocol-version': '1' },
    body: encodeSelectMergeProfile(sel) as BodyInit,
  });
  if (!res.ok) throw await errorFrom('SelectMergeProfile', res);
  return new Uint8Array(await res.arrayBuffer());
}

/** Protobuf encoding of SelectMergeProfileRequest fields 1–4 (two strings, two int64): too small to need codegen. */
export function encodeSelectMergeProfile(sel: Selection): Uint8Array {
  const out: number[] = [];
  const varint = (v: bigint) => {
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
  };
  const str = (field: number, s: string) => {
    const bytes = new TextEncoder().encode(s);
    varint(BigInt((field << 3) | 2));
    varint(BigInt(bytes.length));
    out.push(...bytes);
  };
  const int = (field: number, v: number) => {
    varint(BigInt(field << 3));
    varint(BigInt(Math.trunc(v)));
  };
  str(1, sel.profileTypeID);
  str(2, sel.labelSelector);
  int(3, sel.start);
  int(4, sel.end);
  return Uint8Array.from(out);
}
