import xxhash from 'xxhash-wasm';
import type { DictionaryIds, Id, SymbolDictionary } from '../model/index.js';
import { InputError, functionId, locationId, mappingId } from '../model/index.js';
import { IdKeyTable } from './id-key-table.js';
import { StackMemo } from './stack-memo.js';
import { STORED_STACK, StoredStacks } from './stored-stacks.js';

const { h64Raw } = await xxhash();

/** Memoized functions, mappings and locations before everything is dropped and relearned. */
export const CAPACITY = 500_000;
/** Memoized stacks, and the location slots they hold in total (≈ 4 B each), before the stack memo is dropped. */
export const STACK_CAPACITY = 200_000;
export const STACK_SLOTS_CAPACITY = 4_000_000;

/** Mapping slots per line in a one-line location key (slot 0 = no mapping). */
export const MAPPING_SLOTS = 4096;

/**
 * `DictionaryIds` as the write path reads them, plus what it needs per stack without touching a
 * bigint. Typed arrays where the ids were computed in a decode worker (they cross threads as one copy).
 */
export interface WriteIds {
  readonly mappings: ArrayLike<Id>;
  readonly functions: ArrayLike<Id>;
  readonly locations: ArrayLike<Id>;
  readonly stacks: BigUint64Array;
  /** `stacks` as little-endian u32 words (the same memory): low half at `2i`, high half at `2i + 1`. */
  readonly stackWords: Uint32Array;
  /** 1 where stack i is known to be stored (`markStored` said so), else 0: then ask the known-id sets. */
  readonly stackStored: Uint8Array;
}

/**
 * A dictionary's ids computed where it was decoded: a decode worker runs its own ContentIds (ids are
 * content hashes, the same on any thread) and sends them beside the dictionary's columns, so the
 * event loop does not hash. Index i of each array is the id of entry i of the dictionary's table.
 */
export interface PrecomputedIds {
  readonly mappings: BigUint64Array;
  readonly functions: BigUint64Array;
  readonly locations: BigUint64Array;
  readonly stacks: BigUint64Array;
}

/** u64 ids as little-endian u32 words, the same memory: id i is words `2i` (low) and `2i + 1` (high). */
export function idWords(ids: BigUint64Array): Uint32Array {
  return new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
}

/** Dictionaries whose ids came with them (from a decode worker); the write path takes these as they are. */
const precomputed = new WeakMap<SymbolDictionary, PrecomputedIds>();

export function attachPrecomputedIds(dict: SymbolDictionary, ids: PrecomputedIds): void {
  precomputed.set(dict, ids);
}

/**
 * Whether `forWrite` computes this dictionary's ids itself, walking every location and every frame
 * of every stack: then it also checks every index inside the dictionary as the model's
 * validateProfile does (same rules, same messages), and the write path need not walk it once more.
 */
export function checksDictionary(dict: SymbolDictionary): boolean {
  return !precomputed.has(dict);
}

/** The ids of `dict` as the decode worker sends them. */
export function precomputeIds(contentIds: ContentIds, dict: SymbolDictionary): PrecomputedIds {
  const ids = contentIds.forWrite(dict);
  return { mappings: u64s(ids.mappings), functions: u64s(ids.functions), locations: u64s(ids.locations), stacks: ids.stacks };
}

/** An index loop: BigUint64Array.from goes through the iterator protocol, ~10× slower on these sizes. */
function u64s(ids: ArrayLike<Id>): BigUint64Array {
  const out = new BigUint64Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
  return out;
}

/** A location's id and its slot: a small integer per distinct location, what stacks are memoized by. */
interface LocationEntry {
  readonly id: Id;
  readonly slot: number;
}

interface MappingEntry {
  readonly id: Id;
  /** 1-based; 0 means "no mapping" in a one-line location key. */
  readonly slot: number;
}

interface FunctionEntry {
  readonly id: Id;
  readonly systemName: string;
  readonly file: string;
  /**
   * One-line locations of this function by `line * MAPPING_SLOTS + mapping slot`. Nearly every
   * function has one such location, so the first lives in fields of this entry (one object fewer
   * to reach per frame: the loop is bound by memory latency) and only others get a Map.
   */
  firstKey: number;
  firstId: Id;
  firstSlot: number;
  more: Map<number, LocationEntry> | undefined;
}

/**
 * `dictionaryIds` from the model, made cheap for the write path. Every push carries a fresh dictionary
 * naming mostly the same functions, frames and stacks as the last one, and hashing them all again was
 * the largest cost of a write. So, across calls:
 * - functions are memoized by name (a decoder that interns its strings makes that lookup a pointer
 *   compare), with system name and file compared, not joined into a key per frame per push;
 * - a function's first one-line location (the usual frame) sits in fields of its entry, no Map;
 * - every distinct location gets a small integer slot, and stacks are memoized by their slots (a
 *   32-bit hash of them, confirmed by comparing them), so a known stack costs a pass over small
 *   integers instead of writing its location ids as u64s and hashing them in WebAssembly.
 * Measured on agent-sized pushes (≈ 4 000 functions and locations, ≈ 800 stacks 10–40 frames deep,
 * `npx tsx bench/ingest-stages.ts 400 8`): see docs/BENCHMARKS.md. Results are identical to the
 * model's (test/store/content-ids.test.ts).
 */
export class ContentIds {
  private mappings = new Map<string, MappingEntry>();
  private functions = new Map<string, FunctionEntry>();
  /** Functions sharing a name with another function but not its system name or file (rare). */
  private functionsByText = new Map<string, FunctionEntry>();
  private otherLocations = new Map<string, LocationEntry>();
  private entries = 0;
  private nextSlot = 0;
  /** Stacks by their location slots; an entry marked stored means the write path need not ask its known-id set. */
  private readonly stacksMemo = new StackMemo();
  /** Memoized stacks not yet marked stored: id → memo entry (for `markStored`). */
  private unstoredStacks = new Map<Id, number>();
  private readonly noMapping = mappingId('', '');
  private stackBuf = new BigUint64Array(256);
  private slotBuf = new Int32Array(256);
  /** One stack's location slots, leaf first, while it is looked up. */
  private frameBuf = new Int32Array(256);
  /** Per-call scratch, reused: only the first `dict.functions.length` (`.mappings.length`) are this call's. */
  private fnBuf = new Array<FunctionEntry>(4096);
  private mappingBuf = new Array<MappingEntry>(16);
  /**
   * @param tracksStorage false where nothing is ever stored (a decode worker): stacks are not kept
   * for `markStored`, which would fill that set until it dropped the whole stack memo every 200 000
   * new stacks.
   */
  constructor(private readonly tracksStorage = true) {
    this.sharedStored = tracksStorage ? new StoredStacks() : undefined;
  }

  /** The stacks marked stored, for decoders on other threads (see stored-stacks.ts). */
  readonly sharedStored: StoredStacks | undefined;

  /** Stacks known stored, by id words: what `stackStored` says for precomputed ids (no memo entry to mark). */
  private storedStacks = new IdKeyTable();

  of(dict: SymbolDictionary): DictionaryIds {
    const { mappings, functions, locations, stacks } = this.forWrite(dict);
    return { mappings: Array.from(mappings), functions: Array.from(functions), locations: Array.from(locations), stacks: Array.from(stacks) };
  }

  /**
   * The ids of every entry of `dict`. A dictionary without precomputed ids is checked on the way
   * (`checksDictionary`): an index that names no entry, or a line that is not a 64-bit integer, throws
   * the InputError validateProfile would, before anything derived from it is memoized.
   */
  forWrite(dict: SymbolDictionary): WriteIds {
    const pre = precomputed.get(dict);
    if (pre !== undefined) return this.adopt(pre, dict);
    if (this.entries > CAPACITY) this.forget();
    if (this.stacksMemo.size > STACK_CAPACITY || this.stacksMemo.slotsUsed > STACK_SLOTS_CAPACITY || this.unstoredStacks.size > STACK_CAPACITY) {
      this.forgetStacks();
    }

    const nm = dict.mappings.length;
    const mappingEntries = nm <= this.mappingBuf.length ? this.mappingBuf : (this.mappingBuf = new Array<MappingEntry>(nm * 2));
    const mappings = new Array<Id>(nm);
    for (let i = 0; i < nm; i++) {
      const m = dict.mappings[i]!;
      const key = `${m.binary}\0${m.buildId}`;
      let e = this.mappings.get(key);
      if (e === undefined) {
        e = { id: mappingId(m.binary, m.buildId), slot: this.mappings.size + 1 };
        this.mappings.set(key, e);
        this.entries++;
      }
      mappingEntries[i] = e;
      mappings[i] = e.id;
    }

    const nf = dict.functions.length;
    const fnEntries = nf <= this.fnBuf.length ? this.fnBuf : (this.fnBuf = new Array<FunctionEntry>(nf * 2));
    const functions = new Array<Id>(nf);
    const byName = this.functions;
    for (let i = 0; i < nf; i++) {
      const f = dict.functions[i]!;
      // The usual case inline: one Map lookup by name (one hash of the fresh string), two compares.
      let e = byName.get(f.name);
      if (e === undefined || e.systemName !== f.systemName || e.file !== f.file) e = this.functionEntry(f);
      fnEntries[i] = e;
      functions[i] = e.id;
    }

    const nl = dict.locations.length;
    const locations = new Array<Id>(nl);
    const slots = nl <= this.slotBuf.length ? this.slotBuf : (this.slotBuf = new Int32Array(nl * 2));
    for (let i = 0; i < nl; i++) {
      const l = dict.locations[i]!;
      const mi = l.mapping;
      // `(i >>> 0) === i`: an integer in [0, 2^32), the model's index rule (validate.ts), inline.
      if (mi !== -1 && ((mi >>> 0) !== mi || mi >= nm)) throw new InputError(`location refers to missing mapping ${mi}`);
      const m = mi >= 0 ? mappingEntries[mi]! : undefined;
      let e: LocationEntry | undefined;
      // Symbolized frames are identified by their lines, not their address, as in the model.
      if (l.lines.length === 1) {
        const ln = l.lines[0]!;
        const fi = ln.function;
        const slot = m ? m.slot : 0;
        if ((fi >>> 0) === fi && fi < nf && slot < MAPPING_SLOTS && ln.line >= 0 && Number.isSafeInteger(ln.line) && Number.isSafeInteger(ln.line * MAPPING_SLOTS)) {
          const fe = fnEntries[fi]!;
          const key = ln.line * MAPPING_SLOTS + slot;
          if (fe.firstKey === key) {
            locations[i] = fe.firstId;
            slots[i] = fe.firstSlot;
            continue;
          }
          e = this.oneLineLocation(fe, ln.line, key, m ? m.id : this.noMapping);
        }
      }
      e ??= this.otherLocation(l, m ? m.id : this.noMapping, functions, nf);
      locations[i] = e.id;
      slots[i] = e.slot;
    }

    const ns = dict.stacks.length;
    const stacks = new BigUint64Array(ns);
    const stackWords = new Uint32Array(stacks.buffer);
    const stackStored = new Uint8Array(ns);
    const memo = this.stacksMemo;
    for (let i = 0; i < ns; i++) {
      const e = this.stackEntry(dict.stacks[i]!, slots, locations, nl);
      stackWords[2 * i] = memo.low(e);
      stackWords[2 * i + 1] = memo.high(e);
      if (memo.stored(e)) stackStored[i] = 1;
    }
    return { mappings, functions, locations, stacks, stackWords, stackStored };
  }

  /**
   * The write path learned that this stack is stored (committed, or found in the engine): later
   * dictionaries naming it say so in `stackStored`. Stored stacks are never deleted, so this stays true.
   */
  markStored(id: Id): void {
    if (this.storedStacks.size >= STACK_CAPACITY) this.storedStacks = new IdKeyTable();
    const lo = Number(id & 0xffffffffn);
    const hi = Number(id >> 32n);
    this.storedStacks.set(lo, hi, 1);
    this.sharedStored?.add(lo, hi);
    const e = this.unstoredStacks.get(id);
    if (e === undefined) return;
    this.stacksMemo.markStored(e);
    this.unstoredStacks.delete(id);
  }

  /** Ids a decode worker computed: only `stackStored` is this thread's to say. */
  private adopt(pre: PrecomputedIds, dict: SymbolDictionary): WriteIds {
    const stackWords = idWords(pre.stacks);
    const stackStored = new Uint8Array(pre.stacks.length);
    // STORED_STACK: the decoder found the stack in the shared set (sharedStored), which holds only ids
    // this thread marked stored — no need to look it up again (a cache miss or three per stack).
    const lookUp = this.storedStacks.size > 0;
    for (let i = 0; i < stackStored.length; i++) {
      if (dict.stacks[i] === STORED_STACK || (lookUp && this.storedStacks.get(stackWords[2 * i]!, stackWords[2 * i + 1]!) >= 0)) stackStored[i] = 1;
    }
    return { ...pre, stackWords, stackStored };
  }

  private functionEntry(f: { readonly name: string; readonly systemName: string; readonly file: string }): FunctionEntry {
    let e = this.functions.get(f.name);
    if (e !== undefined && e.systemName === f.systemName && e.file === f.file) return e;
    if (e === undefined) {
      e = newFunctionEntry(f.name, f.systemName, f.file);
      this.functions.set(flatCopy(f.name), e);
      this.entries++;
      return e;
    }
    const text = `${f.name}\0${f.systemName}\0${f.file}`;
    e = this.functionsByText.get(text);
    if (e === undefined) {
      e = newFunctionEntry(f.name, f.systemName, f.file);
      this.functionsByText.set(text, e);
      this.entries++;
    }
    return e;
  }

  /** A one-line location other than the function's first (which forWrite reads inline). */
  private oneLineLocation(fe: FunctionEntry, line: number, key: number, mapping: Id): LocationEntry {
    let e = fe.more?.get(key);
    if (e !== undefined) return e;
    e = { id: locationId(mapping, 0n, [{ functionId: fe.id, line }]), slot: this.nextSlot++ };
    if (fe.firstKey < 0) {
      fe.firstKey = key;
      fe.firstId = e.id;
      fe.firstSlot = e.slot;
    } else (fe.more ??= new Map()).set(key, e);
    this.entries++;
    return e;
  }

  private otherLocation(l: SymbolDictionary['locations'][number], mapping: Id, functions: readonly Id[], nFunctions: number): LocationEntry {
    for (const ln of l.lines) {
      const f = ln.function;
      if ((f >>> 0) !== f || f >= nFunctions) throw new InputError(`location refers to missing function ${f}`);
      // Ids hash the line as a 64-bit integer and stores keep it in one: anything else cannot be stored.
      if (!(Number.isInteger(ln.line) && Math.abs(ln.line) < 2 ** 63)) throw new InputError(`line number ${ln.line} is not a 64-bit integer`);
    }
    let key = `${mapping}`;
    if (l.lines.length === 0) key += `@${l.address}`;
    else for (const ln of l.lines) key += `|${functions[ln.function]!}:${ln.line}`;
    let e = this.otherLocations.get(key);
    if (e === undefined) {
      const id = locationId(mapping, l.lines.length > 0 ? 0n : l.address, l.lines.map((x) => ({ functionId: functions[x.function]!, line: x.line })));
      e = { id, slot: this.nextSlot++ };
      this.otherLocations.set(key, e);
      this.entries++;
    }
    return e;
  }

  /** A stack's memo entry, found by its location slots or added with the model's hash. */
  private stackEntry(stack: readonly number[], slots: Int32Array, locations: readonly Id[], nLocations: number): number {
    const n = stack.length;
    // One pass over the stack (a fresh array per push) checks its indices and gathers its slots into
    // a buffer that stays in cache; the memo compares that, not the stack again.
    const frames = n <= this.frameBuf.length ? this.frameBuf : (this.frameBuf = new Int32Array(n * 2));
    let h = n | 0;
    for (let i = 0; i < n; i++) {
      const l = stack[i]!;
      if ((l >>> 0) !== l || l >= nLocations) throw new InputError(`stack refers to missing location ${l}`);
      const slot = slots[l]!;
      frames[i] = slot;
      h = Math.imul(h ^ slot, 0x5bd1e995) ^ (h >>> 15);
    }
    const key = h & 0x3fffffff; // a small integer key: Map lookups stay on the fast path
    const seen = this.stacksMemo.find(frames, n, key);
    if (seen >= 0) return seen;
    // New (or a hash collision, which simply replaces the older entry): the model's hash.
    const e = this.stacksMemo.add(frames, n, key, this.stackId(stack, locations));
    if (this.tracksStorage) this.unstoredStacks.set(this.stacksMemo.id(e), e);
    return e;
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
    this.functionsByText = new Map();
    this.otherLocations = new Map();
    this.entries = 0;
    // Slots name locations: once those are forgotten, stacks memoized by slot must go too.
    this.nextSlot = 0;
    this.forgetStacks();
  }

  private forgetStacks(): void {
    this.stacksMemo.clear();
    this.unstoredStacks = new Map();
  }
}

/**
 * `s` as one flat string of its own. The memo keeps its keys for as long as it lives and compares
 * every later push's names with them: a key that is a slice of a larger string (what `slice` and
 * some decoders hand over) keeps that string alive and makes each compare take V8's slow path.
 * JSON round-trips every UTF-16 string exactly, lone surrogates included. Runs once per new function.
 */
function flatCopy(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

function newFunctionEntry(name: string, systemName: string, file: string): FunctionEntry {
  return { id: functionId(name, systemName, file), systemName, file, firstKey: -1, firstId: 0n, firstSlot: -1, more: undefined };
}
