import xxhash from 'xxhash-wasm';
import type { Labels } from './labels.js';
import type { ProfileType } from './profile-type.js';
import { profileTypeId } from './profile-type.js';
import type { SymbolDictionary } from './symbols.js';

/**
 * Identity is content: every id is the xxhash64 of what it names, so any number of servers agree on
 * ids without talking to each other, and replaying a write produces the same rows.
 * Ids are unsigned 64-bit, carried as bigint.
 */
export type Id = bigint;

const { h64Raw } = await xxhash();
const encoder = new TextEncoder();

function hashText(s: string): Id {
  return h64Raw(encoder.encode(s));
}

function hashIds(ids: readonly Id[], prefix: Id = 0n): Id {
  const buf = new BigUint64Array(ids.length + 1);
  buf[0] = prefix;
  for (let i = 0; i < ids.length; i++) buf[i + 1] = ids[i]!;
  return h64Raw(new Uint8Array(buf.buffer));
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
  if (lines.length === 0) return hashIds([mapping, BigInt.asUintN(64, address)], 1n);
  const parts: Id[] = [mapping];
  for (const l of lines) parts.push(l.functionId, BigInt(l.line));
  return hashIds(parts, 2n);
}

/** Stack ids hash the location ids, leaf first. */
export function stackId(locationIds: readonly Id[]): Id {
  return hashIds(locationIds, 3n);
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
  const noMapping = mappingId('', '');
  for (let i = locations.length; i < dict.locations.length; i++) {
    const l = dict.locations[i]!;
    locations.push(
      locationId(
        l.mapping >= 0 ? mappings[l.mapping]! : noMapping,
        l.lines.length > 0 ? 0n : l.address,
        l.lines.map((ln) => ({ functionId: functions[ln.function]!, line: ln.line })),
      ),
    );
  }
  for (let i = stacks.length; i < dict.stacks.length; i++) stacks.push(stackId(dict.stacks[i]!.map((loc) => locations[loc]!)));
  return known;
}
