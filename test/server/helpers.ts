import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';

export const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
/** A range covering every profile a test writes (corpus files date from 2021–2023). */
export const ALL_TIME = { start: '0', end: String(Date.now() + 86_400_000) };

export async function ingest(
  url: string,
  params: Record<string, string>,
  body: BodyInit | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Response> {
  // A Buffer or Uint8Array over any ArrayBuffer is a body to fetch; lib.dom's BodyInit names only some.
  return fetch(`${url}/ingest?${new URLSearchParams(params)}`, { method: 'POST', body: body as BodyInit, headers });
}

/** A querier.v1 call over Connect JSON, exactly as Grafana's data source sends it. */
export async function querier<T = Record<string, unknown>>(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}/querier.v1.QuerierService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export interface JsonFlameGraph {
  flamegraph?: { names: string[]; levels: { values: string[] }[]; total: string; maxSelf: string };
}

/** Total of a JSON flame graph (int64 comes as a string in Connect JSON); 0 when empty. */
export function flameTotal(r: JsonFlameGraph): number {
  return Number(r.flamegraph?.total ?? 0);
}

/** The raw bytes of a corpus file, ungzipped when needed. */
export function rawPprof(file: string): Uint8Array {
  const data = readFileSync(file);
  return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
}

/** Sum of one sample type's values, computed straight from the file with pprof-format. */
export function pprofSum(file: string, sampleType: string): number {
  const p = PprofProfile.decode(rawPprof(file));
  const idx = p.sampleType.findIndex((t) => p.stringTable.strings[Number(t.type)] === sampleType);
  if (idx < 0) throw new Error(`${file} has no sample type ${sampleType}`);
  let sum = 0;
  for (const s of p.sample) sum += Number(s.value[idx] ?? 0);
  return sum;
}

export function pprofTimeMs(file: string): number {
  return Number(BigInt(PprofProfile.decode(rawPprof(file)).timeNanos ?? 0) / 1_000_000n);
}
