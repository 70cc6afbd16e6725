import { InputError, emptyDictionary } from '../model/index.js';
import type { Line, SymbolDictionary } from '../model/index.js';
import type { PprofMessage } from './pprof-wire.js';

/**
 * A pprof message's mappings, functions, locations and stacks as one SymbolDictionary, de-duplicated
 * by content exactly as DictionaryBuilder would (same entries, same order), but keyed by numbers:
 * string-table indices made canonical once per profile instead of a joined string key per function,
 * location and stack. An agent-sized profile names thousands of frames, and building those keys was
 * most of its decode time.
 */
export class PprofSymbols {
  readonly dict: SymbolDictionary = emptyDictionary();
  private readonly locationsById: IdIndex;
  /** Stack content hash → dictionary stack index (collisions fall back to `stackByText`). */
  private readonly stackByHash = new Map<number, number>();
  private readonly stackByText = new Map<string, number>();

  constructor(pp: PprofMessage, str: (i: number) => string) {
    const canon = canonicalStrings(pp.strings);
    const nStrings = pp.strings.length + 1; // + 1: the "no system name" slot
    // '' stands for "no system name"; a table without '' (malformed, but decodable) gets a slot past its end.
    const emptyAt = pp.strings.indexOf('');
    const emptySlot = emptyAt >= 0 ? canon[emptyAt]! : pp.strings.length;
    const canonOf = (i: number): number => {
      str(i); // range check with the codec's message
      return canon[i]!;
    };

    const mappingsById = new IdIndex(pp.mappings.map((m) => m.id));
    const mappingIdx = new Map<number, number>();
    for (const m of pp.mappings) {
      const key = canonOf(m.filename) * nStrings + canonOf(m.buildId);
      let i = mappingIdx.get(key);
      if (i === undefined) {
        i = this.dict.mappings.push({ binary: str(m.filename), buildId: str(m.buildId) }) - 1;
        mappingIdx.set(key, i);
      }
      mappingsById.set(m.id, i);
    }

    // Some .NET agents write every function with id 0, one function per location, in location order
    // (Pyroscope repairs them the same way): give function i the id of location i.
    const fns = pp.functions;
    const locs = pp.locations;
    const brokenIds = fns.ids.length > 0 && fns.ids.length === locs.ids.length && fns.ids.every((id) => id === 0);
    const functionIds = brokenIds ? locs.ids : fns.ids;
    const functionsById = new IdIndex(functionIds);
    // Three string indices fit one exact number key for up to ≈ 200 000 strings; past that, text keys.
    const numericKeys = nStrings ** 3 < Number.MAX_SAFE_INTEGER;
    const functionIdx = new Map<number | string, number>();
    for (let k = 0; k < functionIds.length; k++) {
      const name = canonOf(fns.names[k]!);
      const system = canonOf(fns.systemNames[k]!) === name ? emptySlot : canon[fns.systemNames[k]!]!;
      const file = canonOf(fns.filenames[k]!);
      const key = numericKeys ? (name * nStrings + system) * nStrings + file : `${name},${system},${file}`;
      let i = functionIdx.get(key);
      if (i === undefined) {
        const systemName = system === emptySlot ? '' : str(fns.systemNames[k]!);
        i = this.dict.functions.push({ name: str(fns.names[k]!), systemName, file: str(fns.filenames[k]!) }) - 1;
        functionIdx.set(key, i);
      }
      functionsById.set(functionIds[k]!, i);
    }

    this.locationsById = new IdIndex(locs.ids);
    const nFunctions = this.dict.functions.length;
    const nMappingSlots = this.dict.mappings.length + 1;
    const locationIdx = new Map<number | string, number>();
    for (let k = 0; k < locs.ids.length; k++) {
      const id = locs.ids[k]!;
      const mid = locs.mappingIds[k]!;
      const mapping = mid === 0 ? -1 : mappingsById.get(mid);
      if (mapping === undefined) throw new InputError(`not a valid pprof profile: location ${id} refers to unknown mapping ${mid}`);
      const from = locs.lineStart[k]!;
      const lines: Line[] = new Array<Line>(locs.lineStart[k + 1]! - from);
      for (let j = 0; j < lines.length; j++) {
        const fid = locs.lineFunctionIds[from + j]!;
        const f = functionsById.get(fid);
        if (f === undefined) throw new InputError(`not a valid pprof profile: location ${id} refers to unknown function ${fid}`);
        lines[j] = { function: f, line: locs.lineNumbers[from + j]! };
      }
      // Symbolized frames are keyed by mapping and lines only (DictionaryBuilder's rule): the same
      // function+line at two addresses is one location.
      const address = locs.addresses[k]!;
      let key: number | string;
      const one = lines.length === 1 ? lines[0]! : undefined;
      const numeric = one ? (one.line * nMappingSlots + mapping + 1) * nFunctions + one.function : -1;
      if (one && one.line >= 0 && Number.isSafeInteger(numeric)) key = numeric;
      else if (lines.length > 0) key = `${mapping}|${lines.map((l) => `${l.function}:${l.line}`).join(',')}`;
      else key = `${mapping}@${address}`;
      let i = locationIdx.get(key);
      if (i === undefined) {
        i = this.dict.locations.push({ mapping, address, lines }) - 1;
        locationIdx.set(key, i);
      }
      this.locationsById.set(id, i);
    }
  }

  /** Dictionary stack index of a sample's pprof location ids (leaf first), added if new. */
  stack(locationIds: readonly number[]): number {
    const locs = new Array<number>(locationIds.length);
    let h1 = 0x811c9dc5;
    let h2 = locationIds.length;
    for (let j = 0; j < locationIds.length; j++) {
      const l = this.locationsById.get(locationIds[j]!);
      if (l === undefined) throw new InputError(`not a valid pprof profile: sample refers to unknown location ${locationIds[j]}`);
      locs[j] = l;
      h1 = Math.imul(h1 ^ l, 0x01000193);
      h2 = Math.imul(h2 ^ l, 0x5bd1e995) + j;
    }
    const hash = (h1 >>> 0) * 0x200000 + (h2 & 0x1fffff);
    const seen = this.stackByHash.get(hash);
    if (seen !== undefined && sameStack(this.dict.stacks[seen]!, locs)) return seen;
    if (seen !== undefined) {
      // A hash collision (rare): settle it by the full text key.
      const text = locs.join(',');
      let i = this.stackByText.get(text);
      if (i === undefined) this.stackByText.set(text, (i = this.dict.stacks.push(locs) - 1));
      return i;
    }
    const i = this.dict.stacks.push(locs) - 1;
    this.stackByHash.set(hash, i);
    return i;
  }
}

function sameStack(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** For each string-table index, the first index holding the same text. */
function canonicalStrings(strings: readonly string[]): Int32Array {
  const canon = new Int32Array(strings.length);
  const first = new Map<string, number>();
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]!;
    const c = first.get(s);
    if (c === undefined) {
      first.set(s, i);
      canon[i] = i;
    } else canon[i] = c;
  }
  return canon;
}

/**
 * pprof id → dictionary index. Ids are usually 1..n, so a typed array serves them; sparse or huge
 * ids (legal, just unusual) use a Map.
 */
class IdIndex {
  private readonly dense: Int32Array | undefined;
  private readonly sparse: Map<number, number> | undefined;

  constructor(ids: readonly number[]) {
    let max = 0;
    let ok = true;
    for (const id of ids) {
      if (!(Number.isInteger(id) && id >= 0)) ok = false;
      else if (id > max) max = id;
    }
    if (ok && max <= 4 * ids.length + 1024) this.dense = new Int32Array(max + 1).fill(-1);
    else this.sparse = new Map();
  }

  set(id: number, index: number): void {
    if (this.dense) this.dense[id] = index;
    else this.sparse!.set(id, index);
  }

  get(id: number): number | undefined {
    if (this.dense) {
      const v = id >= 0 && id < this.dense.length ? this.dense[id]! : -1;
      return v < 0 ? undefined : v;
    }
    return this.sparse!.get(id);
  }
}
