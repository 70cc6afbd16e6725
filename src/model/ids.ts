import xxhash from 'xxhash-wasm';
import type { Labels } from './labels.js';
import type { ProfileType } from './profile-type.js';
import { profileTypeId } from './profile-type.js';
import type { Location, Stack, SymbolDictionary } from './symbols.js';

/**
 * Identity is content: every id is the xxhash64 of what it names, so any number of servers agree on
 * ids without talking to each other, and replaying a write produces the same rows.
 * Ids are unsigned 64-bit, carried as bigint.
 */
export type Id = bigint;

const { h64, h64Raw } = await xxhash();

/** xxhash64 of the string's UTF-8 bytes, encoded straight into the hasher's own memory (no copy of them made here). */
function hashText(s: string): Id {
  return h64(s);
}

/** Scratch for the u64s an id hashes: written here, not into a new array per id. */
let scratch = new BigUint64Array(64);
/** The same bytes as 32-bit words, to store a line without a BigInt (on a little-endian host: the word order assumed). */
let scratchWords = new Uint32Array(scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Byte views of `scratch`'s first n u64s, by n: made once per length, not per id (h64Raw hashes a whole view). */
let views: Uint8Array[] = [];

/** `scratch` with room for `n` u64s. */
function scratchFor(n: number): BigUint64Array {
  if (scratch.length < n) {
    scratch = new BigUint64Array(n * 2);
    scratchWords = new Uint32Array(scratch.buffer);
    views = [];
  }
  return scratch;
}

/** xxhash64 of the first `n` u64s of `scratch`, little-endian. */
function hashScratch(n: number): Id {
  return h64Raw((views[n] ??= new Uint8Array(scratch.buffer, 0, n * 8)));
}

/** u64 `i` of `scratch` = `line` as a signed 64-bit integer (two's complement), as `BigInt(line)` stores it. */
function storeLine(i: number, line: number): void {
  // Lines are small non-negative integers: two words, no BigInt. Anything else takes BigInt's own conversion.
  if (LITTLE_ENDIAN && line >= 0 && line <= 0xffff_ffff && Number.isInteger(line)) {
    scratchWords[2 * i] = line;
    scratchWords[2 * i + 1] = 0;
  } else scratch[i] = BigInt(line);
}

function hashIds(ids: readonly Id[], prefix: Id = 0n): Id {
  const buf = scratchFor(ids.length + 1);
  buf[0] = prefix;
  for (let i = 0; i < ids.length; i++) buf[i + 1] = ids[i]!;
  return hashScratch(ids.length + 1);
}

export function seriesId(tenant: string, type: ProfileType, labels: Labels): Id {
  return hashText(`${tenant}\0${profileTypeId(type)}\0${labels.map((l) => `${l.name}\0${l.value}`).join('\0')}`);
}

export function mappingId(binary: string, buildId: string): Id {
  return hashText(`m\0${binary}\0${buildId}`);
}

export function functionId(name: string, systemName: string, file: string): Id {
  return hashText(`f\0${name}\0${systemName}\0${file}`);
}

/** Location ids cover the mapping and the frames (or, when unsymbolized, the address). */
export function locationId(mapping: Id, address: bigint, lines: readonly { functionId: Id; line: number }[]): Id {
  if (lines.length === 0) return unnamedLocationId(mapping, address);
  // [2, mapping, (function id, line)…]; a negative line is stored as its two's complement, as before.
  const n = 2 + 2 * lines.length;
  const buf = scratchFor(n);
  buf[0] = 2n;
  buf[1] = mapping;
  for (let i = 0; i < lines.length; i++) {
    buf[2 + 2 * i] = lines[i]!.functionId;
    storeLine(3 + 2 * i, lines[i]!.line);
  }
  return hashScratch(n);
}

function unnamedLocationId(mapping: Id, address: bigint): Id {
  const buf = scratchFor(3);
  buf[0] = 1n;
  buf[1] = mapping;
  buf[2] = BigInt.asUintN(64, address);
  return hashScratch(3);
}

/** locationId of a dictionary's location whose lines name functions by index into `functionIds`: no pairs made. */
function dictionaryLocationId(mapping: Id, l: Location, functionIds: readonly Id[]): Id {
  const lines = l.lines;
  if (lines.length === 0) return unnamedLocationId(mapping, l.address);
  const n = 2 + 2 * lines.length;
  const buf = scratchFor(n);
  buf[0] = 2n;
  buf[1] = mapping;
  for (let i = 0; i < lines.length; i++) {
    buf[2 + 2 * i] = functionIds[lines[i]!.function]!;
    storeLine(3 + 2 * i, lines[i]!.line);
  }
  return hashScratch(n);
}

/** Stack ids hash the location ids, leaf first. */
export function stackId(locationIds: readonly Id[]): Id {
  return hashIds(locationIds, 3n);
}

/** stackId of a dictionary's stack (location indices into `locationIds`): no array of ids made. */
function dictionaryStackId(stack: Stack, locationIds: readonly Id[]): Id {
  const buf = scratchFor(stack.length + 1);
  buf[0] = 3n;
  for (let i = 0; i < stack.length; i++) buf[i + 1] = locationIds[stack[i]!]!;
  return hashScratch(stack.length + 1);
}

/** Content ids for every entry of a dictionary, index-aligned with it. */
export interface DictionaryIds {
  readonly mappings: Id[];
  readonly functions: Id[];
  readonly locations: Id[];
  readonly stacks: Id[];
}

export function dictionaryIds(dict: SymbolDictionary): DictionaryIds {
  return extendDictionaryIds(dict, { mappings: [], functions: [], locations: [], stacks: [] });
}

/**
 * `known` (the ids of an earlier state of `dict`) extended in place to every entry of `dict`, for a
 * dictionary that only grows (the agent's, kept across intervals): only the new entries are hashed.
 */
export function extendDictionaryIds(dict: SymbolDictionary, known: DictionaryIds): DictionaryIds {
  const { mappings, functions, locations, stacks } = known;
  for (let i = mappings.length; i < dict.mappings.length; i++) mappings.push(mappingId(dict.mappings[i]!.binary, dict.mappings[i]!.buildId));
  for (let i = functions.length; i < dict.functions.length; i++) {
    const f = dict.functions[i]!;
    functions.push(functionId(f.name, f.systemName, f.file));
  }
  const noMapping = NO_MAPPING_ID;
  for (let i = locations.length; i < dict.locations.length; i++) {
    const l = dict.locations[i]!;
    // A named location's id covers its lines, not its address; an unnamed one's its address.
    locations.push(dictionaryLocationId(l.mapping >= 0 ? mappings[l.mapping]! : noMapping, l, functions));
  }
  for (let i = stacks.length; i < dict.stacks.length; i++) stacks.push(dictionaryStackId(dict.stacks[i]!, locations));
  return known;
}

/** The id of the unknown mapping (-1), hashed once rather than per call. */
const NO_MAPPING_ID = mappingId('', '');
