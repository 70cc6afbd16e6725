import { InputError, functionId, locationId, mappingId } from '../model/index.js';
import type { FunctionInfo, Id, Line, Location, Mapping, Profile, Stack, SymbolDictionary } from '../model/index.js';
// The memo's bounds and key layout are the write path's own (ContentIds).
import { CAPACITY, MAPPING_SLOTS, STACK_CAPACITY, STACK_SLOTS_CAPACITY, attachPrecomputedIds } from '../store/content-ids.js';
import { attachPrecomputedSamples, profileSamples } from '../store/profile-rows.js';
import type { StoredStacks } from '../store/stored-stacks.js';
import { STORED_STACK } from '../store/stored-stacks.js';
import type { DecodeOptions } from '../formats/options.js';
import { PprofSampleBuckets, scanPprofPayload, stringLookup } from '../formats/pprof.js';
import { IdIndex } from '../formats/pprof-symbols.js';
import type { PprofScan } from '../formats/pprof-wire.js';
import { asBuffer, scanString, uint64At } from '../formats/pprof-wire.js';
import { doubled, room } from './open-addressing.js';
import { StackMemo, mixSlot } from './pprof-stack-memo.js';

/**
 * pprof → profiles ready for the store, computing content ids straight from the wire bytes.
 *
 * decodePprof builds a SymbolDictionary (a string per name, an object per function, location, line and
 * stack: ≈ 10 000 allocations for an agent push of ≈ 4 000 functions and locations) and the write path
 * then looks every name up again to hash it. An agent sends the same names every 10 s, so here a
 * memo that lives across requests (one per thread, WireIds) knows each function by the bytes of its
 * strings, each location by (mapping, function, line) and each stack by its locations, and gives
 * their content ids without decoding a string. Symbols are built only for the stacks the store is
 * not known to have (`stored`, shared by the write path): every stack when it is first sent, then
 * none. Those stacks keep the shared STORED_STACK (no frames) in the dictionary; their ids and every
 * profile's rows come attached (content-ids.ts, profile-rows.ts), so the write path neither hashes
 * nor reads them. Ids are the model's (ids.ts) from the same fields decodePprof reads: the tests
 * check both decoders store the same thing over the corpus.
 */
export function decodePprofForStore(data: Uint8Array, opts: DecodeOptions = {}, stored?: StoredStacks): Profile[] {
  // Distinct stacks are counted by the memo below, which finds them anyway (max_stacks_per_request).
  const budget = opts.budget;
  budget?.countStacksInDecoder();
  const scan = scanPprofPayload(data, opts);
  const text = asBuffer(scan.bytes);
  const str = stringLookup(scan.stringStart.length, (i) => scanString(scan, i, text));
  const samples = new PprofSampleBuckets(scan, str, opts);
  const request = wireIds.begin(scan, text, str);
  const s = scan.samples;
  const stacksLeft = budget ? budget.stacksLeft() : Infinity;
  for (let i = 0; i + 1 < s.locationStart.length; i++) {
    if (!samples.keeps(i)) continue;
    const stack = request.stack(s.locationStart[i]!, s.locationStart[i + 1]!);
    samples.add(i, stack);
    // Checked as each new stack arrives, before a stack bomb fills the memo that outlives the request.
    if (stack >= stacksLeft) budget!.tableStacks(stack + 1);
  }
  budget?.tableStacks(request.stackCount);
  const { dict, stackIds } = request.dictionary(stored);
  const stackWords = new Uint32Array(stackIds.buffer);
  const profiles = samples.profiles(dict);
  for (const p of profiles) attachPrecomputedSamples(p, stackWords, profileSamples(p, stackWords));
  return profiles;
}

/** Int32s per function table slot (64 bytes), where the key's bytes start in it, and how many fit. */
const FN_SLOT = 16;
const KEY_AT = 24;
const INLINE_KEY = FN_SLOT * 4 - KEY_AT;
/** The slot's key words are read in the machine's byte order against little-endian reads of the request. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Functions memoized before the memo starts over: keeps the table at 16 MiB at most. */
const MAX_FUNCTIONS = 1 << 17;

const ids64 = (words: Uint32Array): BigUint64Array => new BigUint64Array(words.buffer, words.byteOffset, words.length / 2);

/**
 * The thread's memo: functions by the bytes of (name, system name, file), locations by slot, stacks by
 * their location slots. Keys are raw bytes; ids come from the decoded strings (the model's rule), so a
 * key always gives the id decodePprof would give.
 */
class WireIds {
  /**
   * Functions by the bytes of their three strings: open addressing, one 64-byte slot per entry holding
   * [hash, entry + 1 (0 = empty), the three lengths, the key's arena offset] and the key's first
   * INLINE_KEY bytes, so a lookup usually reads one cache line. This loop is bound by memory latency
   * (≈ 4 000 lookups per agent push); with the key only in the arena a lookup touched three lines.
   */
  private fnTable = new Int32Array(FN_SLOT << 13);
  private fnTableBytes = new Uint8Array(this.fnTable.buffer);
  private arena = new Uint8Array(1 << 16);
  private arenaLength = 0;
  private fnCount = 0;
  /** Function entry i's id as u32 words (low, high). */
  fnIds = new Uint32Array(2 * 1024);
  /** The first one-line location of function i: its key (line · MAPPING_SLOTS + mapping slot, -1 none) and slot. */
  private fnFirstKey = new Float64Array(1024).fill(-1);
  private fnFirstLoc = new Int32Array(1024);
  private moreLocations = new Map<string, number>();
  private locCount = 0;
  /** Location slot i's id as u32 words. */
  locIds = new Uint32Array(2 * 1024);
  /** Mapping slot (1-based; 0 = no mapping) by `binary \0 buildId`, and each slot's id words. */
  private mappings = new Map<string, number>();
  mapIds = new Uint32Array(2 * 64);
  /** Stacks by their location slots; a stack's serial indexes the per-request tables. */
  readonly stacks = new StackMemo();

  /** Starts a request over one scanned pprof: its mappings, functions and locations get their slots. */
  begin(scan: PprofScan, text: Buffer, str: (i: number) => string): WireRequest {
    if (this.fnCount + this.locCount > CAPACITY || this.fnCount > MAX_FUNCTIONS) this.forget();
    if (this.stacks.size > STACK_CAPACITY || this.stacks.slotsHeld > STACK_SLOTS_CAPACITY) this.stacks.forget();
    return new WireRequest(this, scan, text, str);
  }

  mappingSlot(binary: string, buildId: string): number {
    const key = `${binary}\0${buildId}`;
    let slot = this.mappings.get(key);
    if (slot === undefined) {
      slot = this.mappings.size + 1;
      this.mappings.set(key, slot);
      this.mapIds = room(this.mapIds, 2 * slot + 1, (n) => new Uint32Array(n));
      setWords(this.mapIds, slot, mappingId(binary, buildId));
    }
    return slot;
  }

  /** Id words of "no mapping" live at slot 0. */
  constructor() {
    setWords(this.mapIds, 0, mappingId('', ''));
  }

  /**
   * The function entry of each of the first `count` pprof function rows of `scan`, into `out`; `decode(k)` gives row k's three strings when its entry is new (the id is hashed from them).
   *
   * In three passes, because each lookup's first read of its table slot misses the cache (the table
   * is ≈ 1 MiB for an agent's ≈ 5 000 functions, and the lookups land at random): the keys' hashes
   * first, then one read of every slot a lookup will start at — independent loads the CPU overlaps,
   * where a lookup's hashing and comparing between them kept it waiting on one miss at a time — and
   * then the lookups, mostly from cache.
   */
  functionSlots(scan: PprofScan, count: number, str: (i: number) => string, decode: (k: number) => FunctionInfo, out: Int32Array): void {
    const fns = scan.functions;
    const view = (this.view = new DataView(scan.bytes.buffer, scan.bytes.byteOffset, scan.bytes.byteLength));
    const { stringStart: start, stringEnd: end, bytes } = scan;
    if (this.keyHash.length < count) {
      this.keyHash = new Int32Array(2 * count);
      this.keySysLength = new Int32Array(2 * count);
    }
    const hashes = this.keyHash;
    const sysLengths = this.keySysLength;
    for (let k = 0; k < count; k++) {
      const n = fns.names[k]!;
      const sy = fns.systemNames[k]!;
      const f = fns.filenames[k]!;
      // Checked as decodePprof's str() does, whether or not the function is used.
      if (start[n] === undefined) str(n);
      if (start[sy] === undefined) str(sy);
      if (start[f] === undefined) str(f);
      const n0 = start[n]!;
      const n1 = end[n]!;
      const s0 = start[sy]!;
      const s1 = end[sy]!;
      // Most encoders (Go's runtime/pprof, pprof-format) write the name again as the system name. Such
      // a key keeps the name's bytes once, marked by a system-name length of -1: half the bytes to
      // compare, and most keys then fit the slot's inline bytes (with the name twice they spilled into
      // the arena, a second cache miss per lookup). The mark is canonical — set whenever the two
      // strings' bytes are equal, whether or not they share a string-table index — so one function
      // never gets two entries.
      const sysSame = (s0 === n0 && s1 === n1) || (s1 - s0 === n1 - n0 && sameBytes(bytes, n0, s0, n1 - n0));
      sysLengths[k] = sysSame ? -1 : s1 - s0;
      hashes[k] = keyHash(view, bytes, n0, n1, sysLengths[k]!, s0, sysSame ? s0 : s1, start[f]!, end[f]!);
    }
    let touched = 0;
    const mask = this.fnTable.length / FN_SLOT - 1;
    for (let k = 0; k < count; k++) touched ^= this.fnTable[(hashes[k]! & mask) * FN_SLOT + 1]!;
    this.touched = touched;
    for (let k = 0; k < count; k++) {
      const n = fns.names[k]!;
      const sy = fns.systemNames[k]!;
      const f = fns.filenames[k]!;
      const sysLength = sysLengths[k]!;
      const h = hashes[k]!;
      const n0 = start[n]!;
      const n1 = end[n]!;
      const s0 = start[sy]!;
      const s1 = sysLength < 0 ? s0 : end[sy]!;
      const f0 = start[f]!;
      const f1 = end[f]!;
      const e = this.findFunction(bytes, h, n0, n1, sysLength, s0, s1, f0, f1);
      out[k] = e >= 0 ? e : this.newFunction(-1 - e, bytes, h, n0, n1, sysLength, s0, s1, f0, f1, k, decode);
    }
    this.view = undefined;
  }

  /** The request's bytes as words (names are hashed and compared four bytes at a time), during functionSlots. */
  private view: DataView | undefined;
  /** Scratch per function row of a request: its key's hash and system-name length. */
  private keyHash = new Int32Array(1024);
  private keySysLength = new Int32Array(1024);
  /** Kept so the touching loads in functionSlots are not optimized away. */
  touched = 0;

  /**
   * The function entry of a key (byte ranges of `bytes`, hash `h`: see functionSlots), or -1 - the empty
   * slot its probe ended on, where newFunction puts it: one probe per lookup, known or new.
   */
  private findFunction(bytes: Uint8Array, h: number, n0: number, n1: number, sysLength: number, s0: number, s1: number, f0: number, f1: number): number {
    const table = this.fnTable;
    const mask = table.length / FN_SLOT - 1;
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const base = at * FN_SLOT;
      const e = table[base + 1]! - 1;
      if (e < 0) return -1 - at;
      if (table[base] === h && table[base + 2] === n1 - n0 && table[base + 3] === sysLength && table[base + 4] === f1 - f0 && this.keyBytesAre(at, bytes, n0, n1, s0, s1, f0, f1)) return e;
    }
  }

  /** A new function's entry, its key kept in empty table slot `at` (findFunction's). */
  private newFunction(at: number, bytes: Uint8Array, h: number, n0: number, n1: number, sysLength: number, s0: number, s1: number, f0: number, f1: number, k: number, decode: (k: number) => FunctionInfo): number {
    const table = this.fnTable;
    const mask = table.length / FN_SLOT - 1;
    const e = this.fnCount++;
    const len = n1 - n0 + (s1 - s0) + (f1 - f0);
    if (this.arenaLength + len > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaLength + len));
      a.set(this.arena.subarray(0, this.arenaLength));
      this.arena = a;
    }
    const at0 = this.arenaLength;
    this.arena.set(bytes.subarray(n0, n1), at0);
    this.arena.set(bytes.subarray(s0, s1), at0 + n1 - n0);
    this.arena.set(bytes.subarray(f0, f1), at0 + n1 - n0 + s1 - s0);
    this.arenaLength += len;
    this.fnIds = room(this.fnIds, 2 * e + 1, (n) => new Uint32Array(n));
    this.fnFirstLoc = room(this.fnFirstLoc, e, (n) => new Int32Array(n));
    if (e >= this.fnFirstKey.length) {
      const k = new Float64Array(this.fnFirstKey.length * 2).fill(-1);
      k.set(this.fnFirstKey);
      this.fnFirstKey = k;
    }
    const f = decode(k);
    setWords(this.fnIds, e, functionId(f.name, f.systemName, f.file));
    const base = at * FN_SLOT;
    table[base] = h;
    table[base + 1] = e + 1;
    table[base + 2] = n1 - n0;
    table[base + 3] = sysLength;
    table[base + 4] = f1 - f0;
    table[base + 5] = at0;
    this.fnTableBytes.set(this.arena.subarray(at0, at0 + Math.min(len, INLINE_KEY)), base * 4 + KEY_AT);
    if (2 * this.fnCount > mask + 1) this.rehash();
    return e;
  }

  /** Whether the key in table slot `at`, whose lengths are these, has these bytes: from the slot alone when it fits there (most keys). */
  private keyBytesAre(at: number, bytes: Uint8Array, n0: number, n1: number, s0: number, s1: number, f0: number, f1: number): boolean {
    if (!LITTLE_ENDIAN || n1 - n0 + (s1 - s0) + (f1 - f0) > INLINE_KEY) return this.keyBytesWithArena(at, bytes, n0, n1, s0, s1, f0, f1);
    const inline = this.fnTableBytes;
    let k = at * FN_SLOT * 4 + KEY_AT;
    // The name four bytes at a time (unaligned reads of the request's bytes against the slot's 4-aligned key), the rest bytewise.
    const words = this.fnTable;
    const view = this.view!;
    let i = n0;
    for (; i + 4 <= n1; i += 4, k += 4) if (view.getInt32(i, true) !== words[k >> 2]) return false;
    for (; i < n1; i++, k++) if (inline[k] !== bytes[i]) return false;
    for (let i = s0; i < s1; i++, k++) if (inline[k] !== bytes[i]) return false;
    for (let i = f0; i < f1; i++, k++) if (inline[k] !== bytes[i]) return false;
    return true;
  }

  /** keyBytesAre byte by byte: the key's first bytes from the slot, any rest from the arena. */
  private keyBytesWithArena(at: number, bytes: Uint8Array, n0: number, n1: number, s0: number, s1: number, f0: number, f1: number): boolean {
    const t = this.fnTable;
    const base = at * FN_SLOT;
    const inline = this.fnTableBytes;
    const from = base * 4 + KEY_AT;
    const arena = this.arena;
    const rest = t[base + 5]!;
    let k = 0;
    for (let i = n0; i < n1; i++, k++) if ((k < INLINE_KEY ? inline[from + k] : arena[rest + k]) !== bytes[i]) return false;
    for (let i = s0; i < s1; i++, k++) if ((k < INLINE_KEY ? inline[from + k] : arena[rest + k]) !== bytes[i]) return false;
    for (let i = f0; i < f1; i++, k++) if ((k < INLINE_KEY ? inline[from + k] : arena[rest + k]) !== bytes[i]) return false;
    return true;
  }

  private rehash(): void {
    this.fnTable = doubled(this.fnTable, FN_SLOT);
    this.fnTableBytes = new Uint8Array(this.fnTable.buffer);
  }

  /** The slot of a location holding one line of function entry `fn` (no address: symbolized frames are known by their lines). */
  oneLineLocation(fn: number, line: number, mappingSlot: number): number {
    if (mappingSlot < MAPPING_SLOTS && line >= 0 && Number.isSafeInteger(line * MAPPING_SLOTS)) {
      const key = line * MAPPING_SLOTS + mappingSlot;
      if (this.fnFirstKey[fn] === key) return this.fnFirstLoc[fn]!;
      const text = `${fn}:${key}`;
      const seen = this.moreLocations.get(text);
      if (seen !== undefined) return seen;
      const slot = this.newLocation(locationId(this.mappingIdOf(mappingSlot), 0n, [{ functionId: wordsId(this.fnIds, fn), line }]));
      if (this.fnFirstKey[fn]! < 0) {
        this.fnFirstKey[fn] = key;
        this.fnFirstLoc[fn] = slot;
      } else this.moreLocations.set(text, slot);
      return slot;
    }
    return this.otherLocation(mappingSlot, 0n, [fn], [line]);
  }

  /** Any other location: unsymbolized (by address), inlined frames, or odd line numbers. */
  otherLocation(mappingSlot: number, address: bigint, fns: readonly number[], lines: readonly number[]): number {
    let text = `${mappingSlot}`;
    if (fns.length === 0) text += `@${address}`;
    else for (let j = 0; j < fns.length; j++) text += `|${fns[j]}:${lines[j]}`;
    const seen = this.moreLocations.get(text);
    if (seen !== undefined) return seen;
    const frames = fns.map((f, j) => ({ functionId: wordsId(this.fnIds, f), line: lines[j]! }));
    const slot = this.newLocation(locationId(this.mappingIdOf(mappingSlot), fns.length > 0 ? 0n : address, frames));
    this.moreLocations.set(text, slot);
    return slot;
  }

  private mappingIdOf(slot: number): Id {
    return wordsId(this.mapIds, slot);
  }

  private newLocation(id: Id): number {
    const slot = this.locCount++;
    this.locIds = room(this.locIds, 2 * slot + 1, (n) => new Uint32Array(n));
    setWords(this.locIds, slot, id);
    return slot;
  }

  private forget(): void {
    this.fnTable = new Int32Array(FN_SLOT << 13);
    this.fnTableBytes = new Uint8Array(this.fnTable.buffer);
    this.fnCount = 0;
    this.arenaLength = 0;
    this.fnFirstKey.fill(-1);
    this.moreLocations = new Map();
    this.locCount = 0;
    this.mappings = new Map();
    // Slots name locations: once those are forgotten, stacks memoized by slot must go too.
    this.stacks.forget();
  }
}

/**
 * A function key's hash: on the lengths and the ends of each string, not every byte (names of one
 * program share long prefixes, rarely their last bytes too): the bytes are compared in full on a match
 * anyway, and hashing all of them was as costly as the compare (≈ 180 KB per agent push). The ends are
 * read as four 32-bit words (two at each end, overlapping in strings under 16 bytes), not sixteen bytes.
 */
function keyHash(view: DataView, bytes: Uint8Array, n0: number, n1: number, sysLength: number, s0: number, s1: number, f0: number, f1: number): number {
  let h = Math.imul(n1 - n0, 0x9e3779b1) ^ sysLength ^ Math.imul(f1 - f0, 0x85ebca6b);
  h = ends(h, view, bytes, n0, n1);
  if (s1 > s0) h = ends(h, view, bytes, s0, s1);
  if (f1 > f0) h = ends(h, view, bytes, f0, f1);
  return h ^ (h >>> 15);
}

/** Whether `bytes[a .. a + n)` and `bytes[b .. b + n)` are the same bytes. */
function sameBytes(bytes: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/** `h` mixed with the first and last 8 bytes of `bytes[from .. to)` (`view`: the same bytes), bytewise when shorter. */
function ends(h: number, view: DataView, bytes: Uint8Array, from: number, to: number): number {
  if (to - from >= 8) {
    h = Math.imul(h ^ view.getInt32(from, true), 0x01000193);
    h = Math.imul(h ^ view.getInt32(from + 4, true), 0x01000193);
    h = Math.imul(h ^ view.getInt32(to - 8, true), 0x01000193);
    return Math.imul(h ^ view.getInt32(to - 4, true), 0x01000193);
  }
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

function setWords(words: Uint32Array, i: number, id: Id): void {
  words[2 * i] = Number(id & 0xffffffffn);
  words[2 * i + 1] = Number(id >> 32n);
}

function wordsId(words: Uint32Array, i: number): Id {
  return (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!);
}

const wireIds = new WireIds();

/**
 * Per-request tables indexed by memo slots, stamped with the request's number so they are reused
 * across requests without clearing: a slot's entry counts only when its stamp is the current request's.
 */
class Stamped {
  private stamp = new Int32Array(1024);
  private value = new Int32Array(1024);
  private request = 0;

  next(): void {
    this.request++;
  }

  get(slot: number): number {
    return slot < this.stamp.length && this.stamp[slot] === this.request ? this.value[slot]! : -1;
  }

  set(slot: number, v: number): void {
    if (slot >= this.stamp.length) {
      this.stamp = room(this.stamp, slot, (n) => new Int32Array(n));
      this.value = room(this.value, slot, (n) => new Int32Array(n));
    }
    this.stamp[slot] = this.request;
    this.value[slot] = v;
  }
}

/** By memo slot: the request's first pprof row of it, and its index in the request's dictionary. */
const firstRow = { location: new Stamped(), function: new Stamped(), mapping: new Stamped() };
const dictIndex = { stack: new Stamped(), location: new Stamped(), function: new Stamped(), mapping: new Stamped() };

/** One pprof being reduced: its pprof ids → memo slots, and its distinct stacks in order of first use. */
class WireRequest {
  private readonly locationSlot: Int32Array;
  private readonly locationsById: IdIndex;
  private readonly functionSlotOfRow: Int32Array;
  private readonly functionsById: IdIndex;
  private readonly mappingSlotOfRow: Int32Array;
  private readonly mappingsById: IdIndex;
  /** The request's distinct stacks (memo serials), in order of first use. */
  private readonly stacks: number[] = [];
  private slots = new Int32Array(256);

  constructor(
    private readonly memo: WireIds,
    private readonly scan: PprofScan,
    private readonly text: Buffer,
    private readonly str: (i: number) => string,
  ) {
    for (const t of [dictIndex.stack, dictIndex.location, dictIndex.function, dictIndex.mapping]) t.next();
    const ms = scan.mappings;
    this.mappingsById = new IdIndex(ms.map((m) => m.id));
    this.mappingSlotOfRow = new Int32Array(ms.length);
    ms.forEach((m, k) => {
      const slot = memo.mappingSlot(str(m.filename), str(m.buildId));
      this.mappingSlotOfRow[k] = slot;
      this.mappingsById.set(m.id, k);
    });

    // Some .NET agents write every function with id 0, one function per location, in location order
    // (decodePprof repairs them the same way): function i gets the id of location i.
    const fns = scan.functions;
    const locs = scan.locations;
    const brokenIds = fns.ids.length > 0 && fns.ids.length === locs.ids.length && fns.ids.every((id) => id === 0);
    const functionIds = brokenIds ? locs.ids : fns.ids;
    this.functionsById = new IdIndex(functionIds);
    this.functionSlotOfRow = new Int32Array(functionIds.length);
    memo.functionSlots(scan, functionIds.length, str, (k) => this.functionInfo(k), this.functionSlotOfRow);
    for (let k = 0; k < functionIds.length; k++) this.functionsById.set(functionIds[k]!, k);

    this.locationsById = new IdIndex(locs.ids);
    this.locationSlot = new Int32Array(locs.ids.length);
    for (let k = 0; k < locs.ids.length; k++) {
      const id = locs.ids[k]!;
      const mid = locs.mappingIds[k]!;
      const mappingRow = mid === 0 ? -1 : this.mappingsById.get(mid);
      if (mappingRow === undefined) throw new InputError(`not a valid pprof profile: location ${id} refers to unknown mapping ${mid}`);
      const mappingSlot = mappingRow < 0 ? 0 : this.mappingSlotOfRow[mappingRow]!;
      const from = locs.lineStart[k]!;
      const to = locs.lineStart[k + 1]!;
      let slot: number;
      if (to - from === 1) slot = memo.oneLineLocation(this.lineFunction(id, from), this.lineNumber(from), mappingSlot);
      else {
        const fnSlots: number[] = [];
        const lines: number[] = [];
        for (let j = from; j < to; j++) {
          fnSlots.push(this.lineFunction(id, j));
          lines.push(this.lineNumber(j));
        }
        slot = memo.otherLocation(mappingSlot, fnSlots.length === 0 ? uint64At(scan.bytes, locs.addressAt[k]!) : 0n, fnSlots, lines);
      }
      this.locationSlot[k] = slot;
      this.locationsById.set(id, k);
    }
    // Samples name locations by pprof id, usually 1..n: a typed array answers those directly.
    let maxId = 0;
    for (const id of locs.ids) if (id > maxId && id <= 4 * locs.ids.length + 1024) maxId = id;
    this.slotById = new Int32Array(maxId + 1).fill(-1);
    for (let k = 0; k < locs.ids.length; k++) {
      const id = locs.ids[k]!;
      if (Number.isInteger(id) && id >= 0 && id <= maxId) this.slotById[id] = this.locationSlot[k]!;
    }
  }

  /** Location slot by pprof location id, for ids up to a few times the count (others: locationsById). */
  private readonly slotById: Int32Array;

  /** The function slot of line j of the location with pprof id `location`. */
  private lineFunction(location: number, j: number): number {
    const fid = this.scan.locations.lineFunctionIds[j]!;
    const row = this.functionsById.get(fid);
    if (row === undefined) throw new InputError(`not a valid pprof profile: location ${location} refers to unknown function ${fid}`);
    return this.functionSlotOfRow[row]!;
  }

  /** Line j's number, as validation asks of every stored line (model/validate.ts): a 64-bit integer. */
  private lineNumber(j: number): number {
    const line = this.scan.locations.lineNumbers[j]!;
    if (!(Number.isInteger(line) && Math.abs(line) < 2 ** 63)) throw new InputError(`line number ${line} is not a 64-bit integer`);
    return line;
  }

  private functionInfo(k: number): FunctionInfo {
    const fns = this.scan.functions;
    const name = this.str(fns.names[k]!);
    const system = this.str(fns.systemNames[k]!);
    return { name, systemName: system === name ? '' : system, file: this.str(fns.filenames[k]!) };
  }

  /** Distinct stacks of this pprof so far. */
  get stackCount(): number {
    return this.stacks.length;
  }

  /** The request-local index of the stack of sample location ids `[from, to)`. */
  stack(from: number, to: number): number {
    const ids = this.scan.samples.locationIds;
    const n = to - from;
    if (this.slots.length < n) this.slots = new Int32Array(n * 2);
    const slots = this.slots;
    const byId = this.slotById;
    let h = n | 0;
    for (let j = 0; j < n; j++) {
      const id = ids[from + j]!;
      let slot = id >= 0 && id < byId.length ? byId[id]! : -1;
      if (slot < 0) {
        const row = this.locationsById.get(id);
        if (row === undefined) throw new InputError(`not a valid pprof profile: sample refers to unknown location ${id}`);
        slot = this.locationSlot[row]!;
      }
      slots[j] = slot;
      h = mixSlot(h, slot);
    }
    const e = this.memo.stacks.serial(slots, n, h, this.memo.locIds);
    let local = dictIndex.stack.get(e);
    if (local < 0) {
      local = this.stacks.push(e) - 1;
      dictIndex.stack.set(e, local);
    }
    return local;
  }

  /**
   * The request's dictionary: every stack it names, with frames only where `stored` does not know the
   * stack (STORED_STACK elsewhere), and the locations, functions and mappings those frames need; the
   * content ids of all of them attached.
   */
  dictionary(stored: StoredStacks | undefined): { dict: SymbolDictionary; stackIds: BigUint64Array } {
    const dict: SymbolDictionary = { mappings: [], functions: [], locations: [], stacks: new Array<Stack>(this.stacks.length) };
    const stackWords = new Uint32Array(2 * this.stacks.length);
    const ids = { mappings: [] as number[], functions: [] as number[], locations: [] as number[] };
    let firstRows = false;
    const memo = this.memo.stacks;
    for (let j = 0; j < this.stacks.length; j++) {
      const e = this.stacks[j]!;
      const lo = memo.ids[2 * e]!;
      const hi = memo.ids[2 * e + 1]!;
      stackWords[2 * j] = lo;
      stackWords[2 * j + 1] = hi;
      if (stored !== undefined && (memo.storedIn[e] === stored.id || stored.has(lo, hi))) {
        memo.storedIn[e] = stored.id;
        dict.stacks[j] = STORED_STACK;
        continue;
      }
      if (!firstRows) this.findFirstRows();
      firstRows = true;
      const frames: number[] = [];
      const slots = memo.slotsOf(e);
      for (let i = 0; i < slots.length; i++) frames.push(this.location(slots[i]!, dict, ids));
      dict.stacks[j] = frames;
    }
    const stackIds = ids64(stackWords);
    attachPrecomputedIds(dict, {
      mappings: this.idsOf(this.memo.mapIds, ids.mappings),
      functions: this.idsOf(this.memo.fnIds, ids.functions),
      locations: this.idsOf(this.memo.locIds, ids.locations),
      stacks: stackIds,
    });
    return { dict, stackIds };
  }

  /**
   * The first pprof row of each slot: where a symbol row's fields come from (decodePprof keeps the
   * first of equal entries too, so a location's stored address is the same). Only when some stack needs symbols.
   */
  private findFirstRows(): void {
    const first = (t: Stamped, slotOfRow: ArrayLike<number>) => {
      t.next();
      for (let k = 0; k < slotOfRow.length; k++) if (t.get(slotOfRow[k]!) < 0) t.set(slotOfRow[k]!, k);
    };
    first(firstRow.mapping, this.mappingSlotOfRow);
    first(firstRow.function, this.functionSlotOfRow);
    first(firstRow.location, this.locationSlot);
  }

  private idsOf(words: Uint32Array, slots: readonly number[]): BigUint64Array {
    const out = new Uint32Array(2 * slots.length);
    slots.forEach((slot, i) => {
      out[2 * i] = words[2 * slot]!;
      out[2 * i + 1] = words[2 * slot + 1]!;
    });
    return ids64(out);
  }

  /** The dictionary index of location slot `slot`, built from its first pprof row when new to the dictionary. */
  private location(slot: number, dict: SymbolDictionary, ids: { mappings: number[]; functions: number[]; locations: number[] }): number {
    const have = dictIndex.location.get(slot);
    if (have >= 0) return have;
    const locs = this.scan.locations;
    const k = firstRow.location.get(slot);
    const mid = locs.mappingIds[k]!;
    let mapping = -1;
    if (mid !== 0) {
      const row = this.mappingsById.get(mid)!;
      const mslot = this.mappingSlotOfRow[row]!;
      mapping = dictIndex.mapping.get(mslot);
      if (mapping < 0) {
        const m = this.scan.mappings[firstRow.mapping.get(mslot)]!;
        mapping = dict.mappings.push({ binary: this.str(m.filename), buildId: this.str(m.buildId) } satisfies Mapping) - 1;
        ids.mappings.push(mslot);
        dictIndex.mapping.set(mslot, mapping);
      }
    }
    const lines: Line[] = [];
    for (let j = locs.lineStart[k]!; j < locs.lineStart[k + 1]!; j++) {
      const fslot = this.functionSlotOfRow[this.functionsById.get(locs.lineFunctionIds[j]!)!]!;
      let fn = dictIndex.function.get(fslot);
      if (fn < 0) {
        fn = dict.functions.push(this.functionInfo(firstRow.function.get(fslot))) - 1;
        ids.functions.push(fslot);
        dictIndex.function.set(fslot, fn);
      }
      lines.push({ function: fn, line: locs.lineNumbers[j]! });
    }
    const index = dict.locations.push({ mapping, address: uint64At(this.scan.bytes, locs.addressAt[k]!), lines } satisfies Location) - 1;
    ids.locations.push(slot);
    dictIndex.location.set(slot, index);
    return index;
  }
}
