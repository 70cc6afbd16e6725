import xxhash from 'xxhash-wasm';
import type { DictionaryIds, Id, SymbolDictionary } from '../model/index.js';
import { functionId, locationId, mappingId } from '../model/index.js';

const { h64Raw } = await xxhash();
const CAPACITY = 500_000;

/**
 * `dictionaryIds` from the model, made cheap for the write path. Every push carries a fresh dictionary
 * naming mostly the same functions and frames as the last one, and hashing them all again was the
 * largest cost of a write: function, mapping and location ids are memoized by content across calls
 * (no closures or joined string keys on the per-frame path), and stack ids are hashed from one reused
 * buffer. Results are identical to the model's (a test checks).
 */
interface FunctionEntry {
  readonly id: Id;
  /** One-line locations of this function by `line * MAPPING_SLOTS + mapping slot`. */
  readonly locations: Map<number, Id>;
}

/** Mapping slots per line in a one-line location key (slot 0 = no mapping). */
const MAPPING_SLOTS = 4096;

export class ContentIds {
  private mappings = new Map<string, { readonly id: Id; readonly slot: number }>();
  // Keyed by the decoder's own name string when the function has no system name or file (the usual
  // case): that string's hash is computed once, and no joined key is built per frame per push.
  private functions = new Map<string, FunctionEntry>();
  private otherLocations = new Map<string, Id>();
  private entries = 0;
  private readonly noMapping = mappingId('', '');
  private stackBuf = new BigUint64Array(256);

  of(dict: SymbolDictionary): DictionaryIds {
    if (this.entries > CAPACITY) this.forget();
    const mappingEntries = dict.mappings.map((m) => {
      const key = `${m.binary}\0${m.buildId}`;
      let e = this.mappings.get(key);
      if (e === undefined) {
        e = { id: mappingId(m.binary, m.buildId), slot: this.mappings.size + 1 };
        this.mappings.set(key, e);
        this.entries++;
      }
      return e;
    });
    const fnEntries = dict.functions.map((f) => {
      const key = f.systemName === '' && f.file === '' ? f.name : `${f.name}\0${f.systemName}\0${f.file}`;
      let e = this.functions.get(key);
      if (e === undefined) {
        e = { id: functionId(f.name, f.systemName, f.file), locations: new Map() };
        this.functions.set(key, e);
        this.entries++;
      }
      return e;
    });
    const mappings = mappingEntries.map((e) => e.id);
    const functions = fnEntries.map((e) => e.id);
    const locations = dict.locations.map((l) => {
      const m = l.mapping >= 0 ? mappingEntries[l.mapping]! : undefined;
      // Symbolized frames are identified by their lines, not their address, as in the model.
      if (l.lines.length === 1) {
        const ln = l.lines[0]!;
        const slot = m ? m.slot : 0;
        if (slot < MAPPING_SLOTS && Number.isSafeInteger(ln.line * MAPPING_SLOTS) && ln.line >= 0) {
          const fe = fnEntries[ln.function]!;
          const k = ln.line * MAPPING_SLOTS + slot;
          let id = fe.locations.get(k);
          if (id === undefined) {
            id = locationId(m ? m.id : this.noMapping, 0n, [{ functionId: fe.id, line: ln.line }]);
            fe.locations.set(k, id);
            this.entries++;
          }
          return id;
        }
      }
      const mid = m ? m.id : this.noMapping;
      let key = `${mid}`;
      if (l.lines.length === 0) key += `@${l.address}`;
      else for (const ln of l.lines) key += `|${functions[ln.function]!}:${ln.line}`;
      let id = this.otherLocations.get(key);
      if (id === undefined) {
        id = locationId(mid, l.lines.length > 0 ? 0n : l.address, l.lines.map((x) => ({ functionId: functions[x.function]!, line: x.line })));
        this.otherLocations.set(key, id);
        this.entries++;
      }
      return id;
    });
    const stacks = dict.stacks.map((s) => this.stackId(s, locations));
    return { mappings, functions, locations, stacks };
  }

  /** The model's `stackId` (xxhash64 of [3, location ids…] as little-endian u64s) without allocating. */
  private stackId(stack: readonly number[], locations: readonly Id[]): Id {
    if (this.stackBuf.length < stack.length + 1) this.stackBuf = new BigUint64Array(stack.length * 2 + 1);
    const buf = this.stackBuf;
    buf[0] = 3n;
    for (let i = 0; i < stack.length; i++) buf[i + 1] = locations[stack[i]!]!;
    return h64Raw(new Uint8Array(buf.buffer, 0, (stack.length + 1) * 8));
  }

  /** Keeps memory bounded: past CAPACITY entries everything is dropped and relearned. */
  private forget(): void {
    this.mappings = new Map();
    this.functions = new Map();
    this.otherLocations = new Map();
    this.entries = 0;
  }
}
