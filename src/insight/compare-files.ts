import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import { decodeProfiles, detectFormat } from '../formats/registry.js';
import '../formats/otlp-format.js'; // registers `otlp`, so OTLP captures are read like any other file
import { QueryEngine } from '../query/engine.js';
import type { WeightedStack } from '../query/stacks.js';
import type { Store } from '../store/store.js';
import type { CountSource } from './compare.js';
import { SAMPLE_TYPE_SUFFIX, heapSamplesType, withHeapSampleCounts } from './compare-heap.js';
import { FALLBACK_BYTES_PERIOD, heapPartner, heapSampleCounts, samplePeriod } from './compare-samples.js';

/**
 * Profile files (pprof, folded, OTLP, perf script, speedscope; several per side) merged the way the
 * server merges a selection: decoded by the format registry, written into a private embedded store in a
 * temporary directory, and read back through the query layer's merge (QueryEngine.stacks). So a file
 * compares exactly as it would once ingested, and no second merge exists to drift from the first.
 */
export interface ProfileInput {
  /** A file name (its extension helps tell the format) and its bytes. */
  readonly name: string;
  readonly data: Uint8Array;
}

export interface MergedSide {
  readonly type: ProfileType;
  readonly stacks: WeightedStack[];
  /** Value per sample (compare-samples.ts), from the profiles' own periods when they carry one. */
  readonly period: number;
  /** The stacks weighted by sample counts when known per stack (Go heap pairs, compare-samples.ts). */
  readonly counts?: WeightedStack[];
  readonly countsFrom?: CountSource;
  /** Every profile type the inputs hold, so a caller can say what else could have been compared. */
  readonly types: readonly string[];
}

export class ProfileFiles {
  private sides = 0;
  private constructor(
    private readonly store: Store,
    private readonly dir: string,
  ) {}

  static async open(): Promise<ProfileFiles> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-files-'));
    try {
      // Loaded here, not with the module: the store's engines (DuckDB's native binding) take about a
      // second to load, and `kiln compare --help`, `kiln summarize --help` or a compare the server runs never needs them.
      const { openDuckDB } = await import('../store/index.js');
      // Two threads and no background roll-ups: a short-lived store on someone's laptop or CI runner.
      return new ProfileFiles(await openDuckDB(dir, { threads: 2, rollup: false }), dir);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Merges the inputs' profiles of one type. `typeId` undefined picks the type a user most likely
   * means (pickType); a type none of the inputs hold is an InputError listing those they do.
   */
  async merge(inputs: readonly ProfileInput[], typeId?: string): Promise<MergedSide> {
    if (inputs.length === 0) throw new InputError('no profile files given');
    const profiles = inputs.map(withSampleCounts).flatMap(decode);
    // The sample-count types compare-heap.ts adds are Kiln's own bookkeeping, not a type to pick.
    const types = [...new Set(profiles.filter((p) => !p.type.sampleType.endsWith(SAMPLE_TYPE_SUFFIX)).map((p) => profileTypeId(p.type)))].sort();
    const wanted = typeId === undefined ? pickType(profiles) : profileTypeId(parseProfileType(typeId));
    const chosen = profiles.filter((p) => profileTypeId(p.type) === wanted);
    if (chosen.length === 0) {
      throw new InputError(`${inputs.map((i) => i.name).join(', ')}: no ${wanted} profile (the files hold ${types.join(', ') || 'no profiles'}); pick one with --type`);
    }
    const type = parseProfileType(wanted);
    const stacks = await this.mergeOf(chosen, wanted);
    const period = samplePeriod(type, stacks, chosen.map((p) => p.period));
    // Go heap types: exact counts where every input carried its records' own (compare-heap.ts), else an
    // estimate from the merged pair (compare-samples.ts heapSampleCounts).
    const samplesType = heapSamplesType(type);
    const samplesId = samplesType ? profileTypeId(samplesType) : undefined;
    const counted = samplesId ? profiles.filter((p) => profileTypeId(p.type) === samplesId) : [];
    if (samplesId && counted.length === chosen.length) return { type, stacks, period, counts: await this.mergeOf(counted, samplesId), countsFrom: 'records', types };
    const partner = heapPartner(type);
    const partnerId = partner ? profileTypeId(partner) : undefined;
    const halves = partnerId ? profiles.filter((p) => profileTypeId(p.type) === partnerId) : [];
    if (partner && halves.length > 0) {
      // pprof's heap period is the sampling rate in bytes (Go's MemProfileRate).
      const rates = [...chosen, ...halves].filter((p) => p.type.periodUnit === 'bytes' && p.period > 0).map((p) => p.period);
      const rate = rates.length > 0 ? Math.max(...rates) : FALLBACK_BYTES_PERIOD;
      const counts = heapSampleCounts(type, stacks, await this.mergeOf(halves, partnerId!), rate, period);
      return { type, stacks, period, counts, countsFrom: 'merged stacks', types };
    }
    return { type, stacks, period, types };
  }

  /** Profiles of one type merged through the query layer, in a tenant of their own. */
  private async mergeOf(profiles: readonly Profile[], typeId: string): Promise<WeightedStack[]> {
    // Each merge is its own tenant, so two sides in one store never mix.
    const tenant = `side-${++this.sides}`;
    await this.store.write(tenant, profiles);
    let from = Infinity;
    let to = -Infinity;
    for (const p of profiles) {
      from = Math.min(from, p.timeMs);
      to = Math.max(to, p.timeMs + Math.ceil(p.durationNs / 1e6));
    }
    return new QueryEngine(this.store).stacks({ tenant, selector: { profileType: typeId, matchers: [] }, from, to: to + 1 });
  }

  async close(): Promise<void> {
    try {
      await this.store.close();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** A Go heap pprof with its records' sample counts added (compare-heap.ts); any other input as it is. */
function withSampleCounts(input: ProfileInput): ProfileInput {
  if (detectFormat(input.name, input.data) !== 'pprof') return input;
  const data = withHeapSampleCounts(input.data);
  return data ? { name: input.name, data } : input;
}

function decode(input: ProfileInput): Profile[] {
  const format = detectFormat(input.name, input.data);
  try {
    return decodeProfiles(format, input.data);
  } catch (e) {
    throw new InputError(`${input.name} (read as ${format}): ${(e as Error).message}`);
  }
}

/**
 * The type to compare when none is asked for: CPU time, else CPU sample counts, else the first type of
 * the first file (pprof's first sample type; heap profiles then compare by allocations).
 */
export function pickType(profiles: readonly Profile[]): string {
  const ids = profiles.map((p) => p.type);
  const pick = ids.find((t) => t.sampleType === 'cpu') ?? ids.find((t) => t.sampleType === 'samples') ?? ids[0];
  if (!pick) throw new InputError('the files hold no profiles');
  return profileTypeId(pick);
}
