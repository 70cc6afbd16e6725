import { gzipSync } from 'node:zlib';
import { FUNCTION, KILN_ROWS_PATH, KILN_ROWS_TYPE, LABEL, LINE, LOCATION, MAPPING, ROWS, SERIES, STACK, TYPE } from '../formats/kiln-rows.js';
import type { DictionaryIds, Id } from '../model/ids.js';
import { extendDictionaryIds } from '../model/ids.js';
import type { Profile } from '../model/profile.js';
import type { SymbolDictionary } from '../model/symbols.js';
import { IdSet } from './exporter-id-set.js';
import { ProtoWriter } from './proto-writer.js';

/**
 * The agent's side of Kiln's rows push (formats/kiln-rows.ts): each interval's rows name stacks by
 * content id, and a stack's frames, functions and mappings are sent only until the server has taken a
 * request naming it. Content ids of the kept dictionary are hashed once per entry (it only grows).
 */

/** Stacks remembered as stored on the server before the set starts over (a stack forgotten is merely sent again). */
const MAX_CONFIRMED = 200_000;

export interface RowsBody {
  readonly body: Uint8Array;
  /** The stacks whose symbols the request carries: confirmed stored once the server accepts it. */
  readonly stackIds: Id[];
}

const NO_RESEND: ReadonlySet<Id> = new Set();

export class RowsEncoder {
  private readonly ids = new WeakMap<SymbolDictionary, DictionaryIds>();
  /** Stacks the server has taken (content ids, 8–13 bytes each: exporter-id-set.ts). */
  private confirmed = new IdSet();
  private readonly w = new ProtoWriter();

  /**
   * One interval's profiles as a rows request: symbols for the stacks not confirmed stored, plus those in
   * `resend` (stacks the server said it lacks), or for every stack when `resend` is 'all'. In a steady
   * interval nearly every stack is confirmed: the request is the series and their stack ids, built
   * without a per-stack object.
   */
  encode(profiles: readonly Profile[], resend: ReadonlySet<Id> | 'all' = NO_RESEND): RowsBody {
    const w = this.w;
    w.reset();
    const sent = { stacks: new Set<Id>(), locations: new Set<Id>(), functions: new Set<Id>(), mappings: new Set<Id>() };
    // Symbols first (the server reads them before the rows that use them), then the series.
    for (const p of profiles) {
      const ids = this.idsOf(p.dict);
      for (const s of p.stacks) {
        const id = ids.stacks[s]!;
        if (sent.stacks.has(id) || !(resend === 'all' || resend.has(id) || !this.confirmed.has(id))) continue;
        sent.stacks.add(id);
        this.writeStack(p.dict, ids, s, sent);
      }
    }
    for (const p of profiles) {
      const ids = this.idsOf(p.dict);
      w.begin(ROWS.series);
      for (const l of p.labels) {
        w.begin(SERIES.labels);
        w.string(LABEL.name, l.name);
        w.string(LABEL.value, l.value);
        w.end();
      }
      w.begin(SERIES.type);
      w.string(TYPE.name, p.type.name);
      w.string(TYPE.sampleType, p.type.sampleType);
      w.string(TYPE.sampleUnit, p.type.sampleUnit);
      w.string(TYPE.periodType, p.type.periodType);
      w.string(TYPE.periodUnit, p.type.periodUnit);
      w.end();
      w.int64(SERIES.timeMs, p.timeMs);
      w.int64(SERIES.durationNs, p.durationNs);
      w.double(SERIES.period, p.period);
      w.packedFixed64Of(SERIES.stackIds, p.stacks, ids.stacks);
      w.packedInt64(SERIES.values, p.values);
      w.end();
    }
    return { body: w.finish(), stackIds: [...sent.stacks] };
  }

  /** Every stack the profiles name (the server answered 409 for a request of them: none is sure stored). */
  stackIdsOf(profiles: readonly Profile[]): Id[] {
    const out = new Set<Id>();
    for (const p of profiles) {
      const ids = this.idsOf(p.dict);
      for (const s of p.stacks) out.add(ids.stacks[s]!);
    }
    return [...out];
  }

  /** The server took a request naming these stacks: it has them stored. */
  confirm(stackIds: readonly Id[]): void {
    if (this.confirmed.size + stackIds.length > MAX_CONFIRMED) this.confirmed = new IdSet();
    for (const id of stackIds) this.confirmed.add(id);
  }

  /** The server said it lacks these (a restart, another replica, another store): send their symbols again. */
  forget(stackIds: Iterable<Id>): void {
    for (const id of stackIds) this.confirmed.delete(id);
  }

  private idsOf(dict: SymbolDictionary): DictionaryIds {
    let ids = this.ids.get(dict);
    if (!ids) this.ids.set(dict, (ids = { mappings: [], functions: [], locations: [], stacks: [] }));
    // Profiles of an interval share one dictionary: its ids are extended once, not once per profile.
    if (ids.stacks.length === dict.stacks.length && ids.locations.length === dict.locations.length && ids.functions.length === dict.functions.length && ids.mappings.length === dict.mappings.length) return ids;
    return extendDictionaryIds(dict, ids);
  }

  private writeStack(dict: SymbolDictionary, ids: DictionaryIds, s: number, sent: Record<'locations' | 'functions' | 'mappings', Set<Id>>): void {
    const w = this.w;
    const frames = dict.stacks[s]!;
    for (const loc of frames) {
      const locId = ids.locations[loc]!;
      if (sent.locations.has(locId)) continue;
      sent.locations.add(locId);
      const l = dict.locations[loc]!;
      if (l.mapping >= 0 && !sent.mappings.has(ids.mappings[l.mapping]!)) {
        const m = dict.mappings[l.mapping]!;
        sent.mappings.add(ids.mappings[l.mapping]!);
        w.begin(ROWS.mappings);
        w.fixed64(MAPPING.id, ids.mappings[l.mapping]!);
        w.string(MAPPING.binary, m.binary);
        w.string(MAPPING.buildId, m.buildId);
        w.end();
      }
      for (const ln of l.lines) {
        const fnId = ids.functions[ln.function]!;
        if (sent.functions.has(fnId)) continue;
        sent.functions.add(fnId);
        const f = dict.functions[ln.function]!;
        w.begin(ROWS.functions);
        w.fixed64(FUNCTION.id, fnId);
        w.string(FUNCTION.name, f.name);
        w.string(FUNCTION.systemName, f.systemName);
        w.string(FUNCTION.file, f.file);
        w.end();
      }
      w.begin(ROWS.locations);
      w.fixed64(LOCATION.id, locId);
      if (l.mapping >= 0) w.fixed64(LOCATION.mappingId, ids.mappings[l.mapping]!);
      w.uint64(LOCATION.address, l.address);
      for (const ln of l.lines) {
        w.begin(LOCATION.lines);
        w.fixed64(LINE.functionId, ids.functions[ln.function]!);
        w.int64(LINE.line, ln.line);
        w.end();
      }
      w.end();
    }
    w.begin(ROWS.stacks);
    w.fixed64(STACK.id, ids.stacks[s]!);
    w.packedFixed64Of(STACK.locationIds, frames, ids.locations);
    w.end();
  }
}

/**
 * Bodies below this go uncompressed: a steady push is mostly 8-byte random ids, which gzip shrinks by
 * only ≈ 25 %, so inflating it would cost the server more than the bytes cost the network. Pushes that
 * carry symbols (text) are larger and compress ≈ 2:1.
 */
const GZIP_FROM_BYTES = 16 * 1024;

/** A rows request's HTTP form: gzip level 1 when large (the agent's CPU is what a node pays for, not the bytes). */
export function rowsRequestBody(body: Uint8Array): { path: string; headers: Record<string, string>; body: Uint8Array } {
  if (body.byteLength < GZIP_FROM_BYTES) return { path: KILN_ROWS_PATH, headers: { 'content-type': KILN_ROWS_TYPE }, body };
  return { path: KILN_ROWS_PATH, headers: { 'content-type': KILN_ROWS_TYPE, 'content-encoding': 'gzip' }, body: gzipSync(body, { level: 1 }) };
}
