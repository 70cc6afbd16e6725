/**
 * The symbol dictionary: one per batch of profiles, like OTLP's ProfilesDictionary.
 * Profiles refer to stacks by index; stacks to locations, locations to mappings and functions.
 * Indices are local to the dictionary; content ids (ids.ts) are what the store keeps.
 */

/** A binary mapped into a process. */
export interface Mapping {
  /** Path or file name of the binary, e.g. `/usr/bin/node`, `[kernel.kallsyms]`. */
  readonly binary: string;
  /** GNU build id (hex) when known, else ''. */
  readonly buildId: string;
}

export interface FunctionInfo {
  readonly name: string;
  /** Mangled / system name when it differs from `name`, else ''. */
  readonly systemName: string;
  readonly file: string;
}

/** One function frame at a location; `function` indexes `SymbolDictionary.functions`. */
export interface Line {
  readonly function: number;
  readonly line: number;
}

export interface Location {
  /** Index into `SymbolDictionary.mappings`, or -1 when unknown. */
  readonly mapping: number;
  /** Instruction address (0 when unknown). Kept for unsymbolized frames and pprof export. */
  readonly address: bigint;
  /**
   * Frames at this address, innermost first (pprof order: the last line is the caller into which the
   * earlier ones were inlined). Empty when unsymbolized: the frame then shows as `binary+0xaddress`.
   */
  readonly lines: readonly Line[];
}

/** Location indices, leaf (innermost) first, root last — pprof's order. */
export type Stack = readonly number[];

export interface SymbolDictionary {
  readonly mappings: Mapping[];
  readonly functions: FunctionInfo[];
  readonly locations: Location[];
  readonly stacks: Stack[];
}

export function emptyDictionary(): SymbolDictionary {
  return { mappings: [], functions: [], locations: [], stacks: [] };
}

/** The name a frame shows: its function, or `binary+0xaddr` when it could not be symbolized. */
export function frameNames(dict: SymbolDictionary, locationIndex: number): string[] {
  const loc = dict.locations[locationIndex]!;
  if (loc.lines.length > 0) return loc.lines.map((l) => dict.functions[l.function]!.name);
  const m = loc.mapping >= 0 ? dict.mappings[loc.mapping] : undefined;
  const bin = m ? m.binary.slice(m.binary.lastIndexOf('/') + 1) || m.binary : 'unknown';
  return [`${bin}+0x${loc.address.toString(16)}`];
}

/**
 * Builds a dictionary while de-duplicating by content, so codecs can add frames without bookkeeping.
 * Keys are cheap strings; the store derives content-hash ids from the finished dictionary.
 */
export class DictionaryBuilder {
  readonly dict: SymbolDictionary = emptyDictionary();
  private readonly mappingIdx = new Map<string, number>();
  private readonly functionIdx = new Map<string, number>();
  private readonly locationIdx = new Map<string, number>();
  private readonly stackIdx = new Map<string, number>();

  mapping(binary: string, buildId = ''): number {
    const key = `${binary}\0${buildId}`;
    let i = this.mappingIdx.get(key);
    if (i === undefined) {
      i = this.dict.mappings.push({ binary, buildId }) - 1;
      this.mappingIdx.set(key, i);
    }
    return i;
  }

  function(name: string, systemName = '', file = ''): number {
    const key = `${name}\0${systemName}\0${file}`;
    let i = this.functionIdx.get(key);
    if (i === undefined) {
      i = this.dict.functions.push({ name, systemName, file }) - 1;
      this.functionIdx.set(key, i);
    }
    return i;
  }

  location(mapping: number, address: bigint, lines: readonly Line[]): number {
    // Symbolized frames are keyed by their lines only, so the same function+line at two addresses
    // is one location: fewer distinct stacks, smaller store, same flame graph.
    const key = lines.length > 0 ? `${mapping}|${lines.map((l) => `${l.function}:${l.line}`).join(',')}` : `${mapping}@${address}`;
    let i = this.locationIdx.get(key);
    if (i === undefined) {
      i = this.dict.locations.push({ mapping, address, lines }) - 1;
      this.locationIdx.set(key, i);
    }
    return i;
  }

  /** A location holding one function frame (no line, no address) — what folded stacks give. */
  frame(name: string, mapping = -1): number {
    return this.location(mapping, 0n, [{ function: this.function(name), line: 0 }]);
  }

  stack(locations: readonly number[]): number {
    const key = locations.join(',');
    let i = this.stackIdx.get(key);
    if (i === undefined) {
      i = this.dict.stacks.push(locations) - 1;
      this.stackIdx.set(key, i);
    }
    return i;
  }
}
