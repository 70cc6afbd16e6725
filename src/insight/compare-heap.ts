import { Profile as PprofProfile, ValueType } from 'pprof-format';
import { gunzipBounded, isGzip } from '../formats/compression.js';
import type { ProfileType } from '../model/profile-type.js';
import { FALLBACK_BYTES_PERIOD, heapPartner, unscaledSamples } from './compare-samples.js';

/**
 * Exact sample counts for Go heap profiles given as pprof files. Go keeps one record per call stack
 * *and object size*, and scales each record by its own size (compare-samples.ts): once Kiln's decoder
 * has merged the records of one stack, the sizes are gone and no formula on the sums gives the samples
 * back — a call site allocating both 16-byte and 16 MiB objects would count hundreds of samples for a
 * handful. So before decoding, each record's samples are worked out from its own two values and written
 * beside them as one more sample type, `<alloc|inuse>_samples:count`, which then merges like any value.
 */
export const SAMPLE_TYPE_SUFFIX = '_samples';

/** The type holding the sample counts of a heap type (`memory:alloc_samples:count:space:bytes`), if it has one. */
export function heapSamplesType(type: ProfileType): ProfileType | undefined {
  if (!heapPartner(type)) return undefined;
  const stem = type.sampleType.replace(/_(objects|space)$/, '');
  return { ...type, sampleType: `${stem}${SAMPLE_TYPE_SUFFIX}`, sampleUnit: 'count' };
}

/**
 * The pprof with `alloc_samples`/`inuse_samples` appended for each objects/bytes pair it holds, or
 * undefined when it holds none (or is no pprof pprof-format can read: the regular decoder then says why).
 */
export function withHeapSampleCounts(data: Uint8Array): Uint8Array | undefined {
  let p: PprofProfile;
  try {
    p = PprofProfile.decode(isGzip(data) ? gunzipBounded(data) : data);
  } catch {
    return undefined;
  }
  const strings = p.stringTable.strings;
  const index = (type: string, unit: string) => p.sampleType.findIndex((t) => strings[Number(t.type)] === type && strings[Number(t.unit)] === unit);
  const periodUnit = p.periodType ? strings[Number(p.periodType.unit)] : undefined;
  // pprof's heap period is Go's MemProfileRate, in bytes.
  const rate = periodUnit === 'bytes' && Number(p.period) > 0 ? Number(p.period) : FALLBACK_BYTES_PERIOD;
  let added = 0;
  for (const stem of ['alloc', 'inuse']) {
    const [objects, bytes] = [index(`${stem}_objects`, 'count'), index(`${stem}_space`, 'bytes')];
    if (objects < 0 || bytes < 0 || index(`${stem}${SAMPLE_TYPE_SUFFIX}`, 'count') >= 0) continue;
    p.sampleType.push(new ValueType({ type: p.stringTable.dedup(`${stem}${SAMPLE_TYPE_SUFFIX}`), unit: p.stringTable.dedup('count') }));
    for (const s of p.sample) {
      const o = Number(s.value[objects] ?? 0);
      // A record that is in the profile was sampled at least once; rounding undoes Go's int64 truncation.
      const n = o > 0 ? Math.max(1, Math.round(unscaledSamples(o, Number(s.value[bytes] ?? 0), rate))) : 0;
      s.value = [...s.value, n];
    }
    added++;
  }
  return added > 0 ? p.encode() : undefined;
}
