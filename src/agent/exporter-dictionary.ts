import { DictionaryBuilder, type Line, type SymbolDictionary } from '../model/index.js';

/**
 * The agent's kept dictionary builder (exporter-profiles.ts: KeptDictionary): the same entries, in the
 * same order, as DictionaryBuilder makes, found again without a key string per entry. DictionaryBuilder
 * keys each function, location and stack by a string made of its content — for a stack 20 frames deep
 * ≈ 140 bytes, for a function a second copy of its name — which is right for a batch decoded once, but
 * the agent keeps its dictionary for hours. Here functions are found by their name (the string the entry
 * already holds), locations and stacks by a 32-bit hash of their content in an open-addressing table of
 * indices (Int32Array, 4–8 bytes an entry), each hit checked against the entry itself.
 */
export class CompactDictionaryBuilder extends DictionaryBuilder {
  /** The first function of each name; later ones of the same name (another file or system name) below. */
  private readonly functionByName = new Map<string, number>();
  private readonly functionOthers = new Map<string, number>();
  private readonly locationTable = new IndexTable();
  private readonly stackTable = new IndexTable();

  override function(name: string, systemName = '', file = ''): number {
    const functions = this.dict.functions;
    const first = this.functionByName.get(name);
    if (first !== undefined) {
      const f = functions[first]!;
      if (f.systemName === systemName && f.file === file) return first;
      const key = `${name}\0${systemName}\0${file}`;
      let i = this.functionOthers.get(key);
      if (i === undefined) this.functionOthers.set(key, (i = functions.push({ name, systemName, file }) - 1));
      return i;
    }
    const i = functions.push({ name, systemName, file }) - 1;
    this.functionByName.set(name, i);
    return i;
  }

  override location(mapping: number, address: bigint, lines: readonly Line[]): number {
    // Symbolized frames are one location per mapping and lines, whatever the address (as DictionaryBuilder).
    // The candidates are checked here, not by a callback: a closure made per call (per frame resolved) was
    // the largest allocation of a steady interval after the V8 reader's (stop 32).
    const locations = this.dict.locations;
    const table = this.locationTable;
    const h = locationHash(mapping, address, lines);
    for (let c = table.first(h); c >= 0; c = table.next(h)) {
      const l = locations[c]!;
      if (l.mapping === mapping && (lines.length > 0 ? sameLines(l.lines, lines) : l.lines.length === 0 && l.address === address)) return c;
    }
    const i = locations.push({ mapping, address, lines }) - 1;
    table.add(h, i);
    return i;
  }

  override stack(locations: readonly number[]): number {
    const stacks = this.dict.stacks;
    const table = this.stackTable;
    const h = stackHash(locations);
    for (let c = table.first(h); c >= 0; c = table.next(h)) if (sameNumbers(stacks[c]!, locations)) return c;
    const i = stacks.push(locations) - 1;
    table.add(h, i);
    return i;
  }
}

/**
 * A hash set of entry indices: slots hold index + 1 (0 is empty), probed linearly from the hash; the
 * entries' own content tells a hit from a collision. Grown at half full.
 */
class IndexTable {
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private count = 0;
  /** The slot of the last candidate first()/next() gave: one probe at a time, nothing added during it. */
  private cursor = 0;

  /** The first entry stored under `hash` (-1: none); next(hash) gives the others. The caller compares contents. */
  first(hash: number): number {
    this.cursor = (hash - 1) & (this.slots.length - 1);
    return this.next(hash);
  }

  /** The next entry stored under `hash` after the last one first()/next() gave (-1: no more). */
  next(hash: number): number {
    const mask = this.slots.length - 1;
    for (let s = (this.cursor + 1) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === 0 || this.hashes[s] === hash) {
        this.cursor = s;
        return v - 1;
      }
    }
  }

  add(hash: number, index: number): void {
    if (++this.count * 2 > this.slots.length) this.grow();
    this.put(hash, index);
  }

  private put(hash: number, index: number): void {
    const mask = this.slots.length - 1;
    let s = hash & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = index + 1;
    this.hashes[s] = hash;
  }

  private grow(): void {
    const { slots, hashes } = this;
    this.slots = new Int32Array(slots.length * 2);
    this.hashes = new Int32Array(slots.length * 2);
    for (let s = 0; s < slots.length; s++) if (slots[s] !== 0) this.put(hashes[s]!, slots[s]! - 1);
  }
}

/** Mixes one 32-bit value into a running hash (murmur3's step). */
function mix(h: number, v: number): number {
  let k = Math.imul(v | 0, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Spreads the bits of a finished hash so that the table's low bits depend on all of them. */
function finish(h: number, n: number): number {
  h ^= n;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function locationHash(mapping: number, address: bigint, lines: readonly Line[]): number {
  let h = mix(0x9747b28c, mapping);
  if (lines.length === 0) {
    // Halves of the address as a number, without BigInt operations (each made a BigInt): exact below 2^53
    // (user and interpreter addresses), rounded above — still the same hash for the same address.
    const a = Number(address);
    h = mix(h, a % 0x1_0000_0000);
    return finish(mix(h, Math.floor(a / 0x1_0000_0000)), 0);
  }
  for (const l of lines) h = mix(mix(h, l.function), l.line);
  return finish(h, lines.length);
}

function stackHash(locations: readonly number[]): number {
  let h = 0x3c6ef372;
  for (let i = 0; i < locations.length; i++) h = mix(h, locations[i]!);
  return finish(h, locations.length);
}

function sameLines(a: readonly Line[], b: readonly Line[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.function !== b[i]!.function || a[i]!.line !== b[i]!.line) return false;
  return true;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A new builder holding the stacks `keep` of `dict`, in that order, and what they use, until it holds
 * `budget` locations plus stacks. Every kept entry's content — hence its content id and what the server
 * is sent — is unchanged; only its index moves. Returns the builder and each stack's new index (-1: not kept).
 */
export function copyStacks(dict: SymbolDictionary, keep: readonly number[], budget: number): { builder: CompactDictionaryBuilder; stackIndex: Int32Array } {
  const builder = new CompactDictionaryBuilder();
  const mappingIndex = new Int32Array(dict.mappings.length).fill(-1);
  const functionIndex = new Int32Array(dict.functions.length).fill(-1);
  const locationIndex = new Int32Array(dict.locations.length).fill(-1);
  const stackIndex = new Int32Array(dict.stacks.length).fill(-1);
  const held = builder.dict;
  for (const s of keep) {
    if (held.locations.length + held.stacks.length >= budget) break;
    const old = dict.stacks[s]!;
    const frames = new Array<number>(old.length);
    for (let f = 0; f < old.length; f++) {
      const loc = old[f]!;
      if (locationIndex[loc] === -1) {
        const l = dict.locations[loc]!;
        let mapping = -1;
        if (l.mapping >= 0) {
          if (mappingIndex[l.mapping] === -1) mappingIndex[l.mapping] = builder.mapping(dict.mappings[l.mapping]!.binary, dict.mappings[l.mapping]!.buildId);
          mapping = mappingIndex[l.mapping]!;
        }
        const lines = l.lines.map((ln) => {
          if (functionIndex[ln.function] === -1) {
            const fn = dict.functions[ln.function]!;
            functionIndex[ln.function] = builder.function(fn.name, fn.systemName, fn.file);
          }
          return { function: functionIndex[ln.function]!, line: ln.line };
        });
        locationIndex[loc] = builder.location(mapping, l.address, lines);
      }
      frames[f] = locationIndex[loc]!;
    }
    stackIndex[s] = builder.stack(frames);
  }
  return { builder, stackIndex };
}
