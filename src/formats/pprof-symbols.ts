import { InputError, emptyDictionary } from '../model/index.js';
import type { Line, SymbolDictionary } from '../model/index.js';
import type { PprofScan } from './pprof-wire.js';
import { uint64At } from './pprof-wire.js';

/**
 * A pprof message's mappings, functions, locations and stacks as one SymbolDictionary, de-duplicated
 * by content exactly as DictionaryBuilder would (same entries, same order), without building a
 * joined string key per function, location and stack: functions are found by name (one Map lookup
 * on a string the store hashes next anyway), one-line locations by their function (a typed array),
 * stacks by a numeric hash, each confirmed by comparing content; only the rare entries that share a
 * name or function with a different one fall back to text keys. An agent-sized profile names
 * thousands of frames, and building those keys was most of its decode time.
 */
export class PprofSymbols {
  readonly dict: SymbolDictionary = emptyDictionary();
  private readonly locationsById: IdIndex;
  /** Stack content hash → dictionary stack index (collisions fall back to `stackByText`). */
  private readonly stackByHash = new Map<number, number>();
  private readonly stackByText = new Map<string, number>();

  constructor(pp: PprofScan, str: (i: number) => string) {
    const { mappings, functions, locations } = this.dict;

    const mappingsById = new IdIndex(pp.mappings.map((m) => m.id));
    const mappingIdx = new Map<string, number>();
    for (const m of pp.mappings) {
      const binary = str(m.filename);
      const buildId = str(m.buildId);
      const key = `${binary}\0${buildId}`;
      let i = mappingIdx.get(key);
      if (i === undefined) mappingIdx.set(key, (i = mappings.push({ binary, buildId }) - 1));
      mappingsById.set(m.id, i);
    }

    // Some .NET agents write every function with id 0, one function per location, in location order
    // (Pyroscope repairs them the same way): give function i the id of location i.
    const fns = pp.functions;
    const locs = pp.locations;
    const brokenIds = fns.ids.length > 0 && fns.ids.length === locs.ids.length && fns.ids.every((id) => id === 0);
    const functionIds = brokenIds ? locs.ids : fns.ids;
    const functionsById = new IdIndex(functionIds);
    const functionByName = new Map<string, number>();
    const functionByText = new Map<string, number>();
    for (let k = 0; k < functionIds.length; k++) {
      const name = str(fns.names[k]!);
      const system = str(fns.systemNames[k]!);
      const systemName = system === name ? '' : system;
      const file = str(fns.filenames[k]!);
      let i = functionByName.get(name);
      if (i === undefined) {
        functionByName.set(name, (i = functions.push({ name, systemName, file }) - 1));
      } else if (functions[i]!.systemName !== systemName || functions[i]!.file !== file) {
        const text = `${name}\0${systemName}\0${file}`;
        i = functionByText.get(text);
        if (i === undefined) functionByText.set(text, (i = functions.push({ name, systemName, file }) - 1));
      }
      functionsById.set(functionIds[k]!, i);
    }

    this.locationsById = new IdIndex(locs.ids);
    // First one-line location of each function; others (another line or mapping, several lines,
    // unsymbolized) by DictionaryBuilder's text key.
    const oneLineByFunction = new Int32Array(functions.length).fill(-1);
    const locationByText = new Map<string, number>();
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
      const address = uint64At(pp.bytes, locs.addressAt[k]!);
      let i: number | undefined;
      if (lines.length === 1) {
        // Symbolized frames are keyed by mapping and lines only (DictionaryBuilder's rule): the same
        // function+line at two addresses is one location.
        const f = lines[0]!.function;
        const first = oneLineByFunction[f]!;
        if (first < 0) {
          oneLineByFunction[f] = i = locations.push({ mapping, address, lines }) - 1;
        } else if (locations[first]!.mapping === mapping && locations[first]!.lines[0]!.line === lines[0]!.line) {
          i = first;
        }
      }
      if (i === undefined) {
        const text = lines.length > 0 ? `${mapping}|${lines.map((l) => `${l.function}:${l.line}`).join(',')}` : `${mapping}@${address}`;
        i = locationByText.get(text);
        if (i === undefined) locationByText.set(text, (i = locations.push({ mapping, address, lines }) - 1));
      }
      this.locationsById.set(id, i);
    }
  }

  /** Dictionary stack index of a sample's pprof location ids (`ids[from .. to)`, leaf first), added if new. */
  stack(ids: readonly number[], from: number, to: number): number {
    const locs = new Array<number>(to - from);
    let h1 = 0x811c9dc5;
    let h2 = locs.length;
    for (let j = 0; j < locs.length; j++) {
      const l = this.locationsById.get(ids[from + j]!);
      if (l === undefined) throw new InputError(`not a valid pprof profile: sample refers to unknown location ${ids[from + j]}`);
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

/**
 * pprof id → dictionary index. Ids are usually 1..n, so a typed array serves them; sparse or huge
 * ids (legal, just unusual) use a Map.
 */
export class IdIndex {
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
