import { randomUUID } from 'node:crypto';
import type { Id, Labels, Profile, ProfileType, Selector } from '../../src/model/index.js';
import { CPU_TYPE, DictionaryBuilder, frameNames, labelsFrom, profileTypeId } from '../../src/model/index.js';
import type { Store, TimeRange } from '../../src/store/store.js';

/** Noon on 2026-01-10 UTC: every contract test writes around here (or in a day of its own). */
export const T0 = Date.UTC(2026, 0, 10, 12);
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export const ALLOC_TYPE: ProfileType = {
  name: 'memory',
  sampleType: 'alloc_space',
  sampleUnit: 'bytes',
  periodType: 'space',
  periodUnit: 'bytes',
};

/** A tenant no other test uses, so tests can share one store without seeing each other. */
export function freshTenant(): string {
  return `t-${randomUUID()}`;
}

export interface FoldedProfile {
  readonly labels: Readonly<Record<string, string>>;
  readonly timeMs: number;
  /** `root;child;leaf` → value (the folded format a user reads). */
  readonly samples: Readonly<Record<string, number>>;
  readonly type?: ProfileType;
  readonly durationNs?: number;
  readonly dict?: DictionaryBuilder;
}

/** A profile whose frames are plain function names, built the way the folded codec builds them. */
export function folded(p: FoldedProfile): Profile {
  const b = p.dict ?? new DictionaryBuilder();
  const stacks: number[] = [];
  const values: number[] = [];
  for (const [line, value] of Object.entries(p.samples)) {
    const locs = line.split(';').reverse().map((name) => b.frame(name));
    stacks.push(b.stack(locs));
    values.push(value);
  }
  return {
    type: p.type ?? CPU_TYPE,
    labels: labelsFrom(p.labels),
    timeMs: p.timeMs,
    durationNs: p.durationNs ?? 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks,
    values,
  };
}

export function selector(matchers: Selector['matchers'] = [], type: ProfileType = CPU_TYPE): Selector {
  return { profileType: profileTypeId(type), matchers };
}

/** Every profile type, no matchers: what a listing of a whole tenant asks. */
export function anyType(matchers: Selector['matchers'] = []): Selector {
  return { profileType: '', matchers };
}

/** mergeStacks + resolveStacks, as `root;…;leaf` → value: what a flame graph would show. */
export async function mergedFolded(
  store: Store,
  tenant: string,
  sel: Selector,
  range: TimeRange,
  spanIds?: readonly Id[],
  profileIds?: readonly Id[],
): Promise<Record<string, number>> {
  const merged = await store.mergeStacks({ tenant, selector: sel, ...range, ...(spanIds ? { spanIds } : {}), ...(profileIds ? { profileIds } : {}) });
  const resolved = await store.resolveStacks(tenant, merged.map((m) => m.stackId));
  const out: Record<string, number> = {};
  for (const m of merged) {
    const idx = resolved.stacks.get(m.stackId);
    if (idx === undefined) throw new Error(`stack ${m.stackId} not resolved`);
    const names = resolved.dict.stacks[idx]!.flatMap((l) => frameNames(resolved.dict, l)).reverse();
    const key = names.join(';');
    out[key] = (out[key] ?? 0) + m.value;
  }
  return out;
}

export function labelsOf(record: Readonly<Record<string, string>>): Labels {
  return labelsFrom(record);
}

export type { Id };
