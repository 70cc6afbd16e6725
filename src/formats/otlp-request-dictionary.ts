import type { SymbolDictionary } from '../model/symbols.js';
import { GNU_BUILD_ID_ATTRIBUTE } from './otlp-attributes.js';
import { FRAME_TYPE_ATTRIBUTE, frameTypeOf, NATIVE } from './otlp-frame-type.js';

export interface OtlpMappingEntry {
  readonly filename: number;
  readonly buildIdAttribute: number; // 0: none
}
export interface OtlpFunctionEntry {
  readonly name: number;
  readonly systemName: number;
  readonly file: number;
}
export interface OtlpLocationEntry {
  readonly mapping: number;
  readonly address: bigint;
  readonly functions: readonly number[];
  readonly lines: readonly number[];
  readonly frameType: number;
}
export interface OtlpAttributeEntry {
  readonly key: number;
  readonly value: string;
}

/**
 * The dictionary of one OTLP request being encoded, as plain tables (entry 0 of every table is the null
 * entry the specification reserves), de-duplicated by content. Each Kiln dictionary entry is translated
 * once and remembered by index, so content keys are built once per entry, not once per use. Both
 * encoders fill it — otlp-encode.ts (protobuf messages, JSON) and the agent's byte writer — so their
 * requests hold the same tables in the same order.
 */
export class OtlpRequestDictionary {
  readonly strings: string[] = [''];
  readonly attributes: OtlpAttributeEntry[] = [{ key: 0, value: '' }];
  readonly mappings: OtlpMappingEntry[] = [{ filename: 0, buildIdAttribute: 0 }];
  readonly functions: OtlpFunctionEntry[] = [{ name: 0, systemName: 0, file: 0 }];
  readonly locations: OtlpLocationEntry[] = [{ mapping: 0, address: 0n, functions: [], lines: [], frameType: 0 }];
  readonly stacks: (readonly number[])[] = [[]];
  private readonly stringIdx = new Map<string, number>([['', 0]]);
  private readonly attributeIdx = new Map<string, number>();
  private readonly mappingIdx = new Map<string, number>();
  private readonly functionIdx = new Map<string, number>();
  private readonly locationIdx = new Map<string, number>();
  /** Stacks by a hash of their location indices (collisions share a bucket). */
  private readonly stackIdx = new Map<number, number[]>();
  /** What each source dictionary's entries became here (-1: not yet). */
  private readonly sources = new Map<SymbolDictionary, SourceIndex>();

  string(s: string): number {
    let i = this.stringIdx.get(s);
    if (i === undefined) this.stringIdx.set(s, (i = this.strings.push(s) - 1));
    return i;
  }

  stringAttribute(key: string, value: string): number {
    const k = this.string(key);
    const id = `${k}\0${value}`;
    let i = this.attributeIdx.get(id);
    if (i === undefined) this.attributeIdx.set(id, (i = this.attributes.push({ key: k, value }) - 1));
    return i;
  }

  stack(src: SymbolDictionary, si: number): number {
    const at = this.source(src);
    let i = at.stacks[si]!;
    if (i >= 0) return i;
    const locs = src.stacks[si]!.map((li) => this.location(src, at, li));
    // By a hash of the indices and a compare, not a joined key string: an interval has thousands of
    // stacks of tens of frames.
    const h = hashIndices(locs);
    const bucket = this.stackIdx.get(h);
    if (bucket) for (const c of bucket) if (sameIndices(this.stacks[c]!, locs)) i = c;
    if (i < 0) {
      i = this.stacks.push(locs) - 1;
      if (bucket) bucket.push(i);
      else this.stackIdx.set(h, [i]);
    }
    at.stacks[si] = i;
    return i;
  }

  private source(src: SymbolDictionary): SourceIndex {
    let s = this.sources.get(src);
    if (!s) this.sources.set(src, (s = new SourceIndex(src)));
    return s;
  }

  private mapping(src: SymbolDictionary, at: SourceIndex, mi: number): void {
    const m = src.mappings[mi]!;
    const { frameType, fileName } = frameTypeOf(m.binary);
    at.frameTypes[mi] = this.stringAttribute(FRAME_TYPE_ATTRIBUTE, frameType);
    if (fileName === '' && m.buildId === '') {
      at.mappings[mi] = 0;
      return;
    }
    const file = this.string(fileName);
    const id = `${file}\0${m.buildId}`;
    let i = this.mappingIdx.get(id);
    if (i === undefined) {
      const buildIdAttribute = m.buildId ? this.stringAttribute(GNU_BUILD_ID_ATTRIBUTE, m.buildId) : 0;
      this.mappingIdx.set(id, (i = this.mappings.push({ filename: file, buildIdAttribute }) - 1));
    }
    at.mappings[mi] = i;
  }

  private function(src: SymbolDictionary, at: SourceIndex, fi: number): number {
    let i = at.functions[fi]!;
    if (i >= 0) return i;
    const f = src.functions[fi]!;
    const name = this.string(f.name);
    const systemName = this.string(f.systemName);
    const file = this.string(f.file);
    const id = `${name},${systemName},${file}`;
    i = this.functionIdx.get(id) ?? -1;
    if (i < 0) this.functionIdx.set(id, (i = this.functions.push({ name, systemName, file }) - 1));
    at.functions[fi] = i;
    return i;
  }

  private location(src: SymbolDictionary, at: SourceIndex, li: number): number {
    let i = at.locations[li]!;
    if (i >= 0) return i;
    const loc = src.locations[li]!;
    let mapping = 0;
    let frameType = this.stringAttribute(FRAME_TYPE_ATTRIBUTE, NATIVE);
    if (loc.mapping >= 0) {
      if (at.mappings[loc.mapping]! < 0) this.mapping(src, at, loc.mapping);
      mapping = at.mappings[loc.mapping]!;
      frameType = at.frameTypes[loc.mapping]!;
    }
    let id = `${mapping},${frameType}`;
    const functions: number[] = [];
    const lines: number[] = [];
    for (const ln of loc.lines) {
      const fn = this.function(src, at, ln.function);
      functions.push(fn);
      lines.push(ln.line);
      id += `,${fn}:${ln.line}`;
    }
    // Symbolized frames are their lines (as in the Kiln model); only unsymbolized ones need the address.
    if (loc.lines.length === 0) id += `@${loc.address}`;
    i = this.locationIdx.get(id) ?? -1;
    if (i < 0) this.locationIdx.set(id, (i = this.locations.push({ mapping, address: loc.address, functions, lines, frameType }) - 1));
    at.locations[li] = i;
    return i;
  }
}

class SourceIndex {
  readonly mappings: Int32Array;
  readonly frameTypes: Int32Array;
  readonly functions: Int32Array;
  readonly locations: Int32Array;
  readonly stacks: Int32Array;

  constructor(d: SymbolDictionary) {
    this.mappings = new Int32Array(d.mappings.length).fill(-1);
    this.frameTypes = new Int32Array(d.mappings.length).fill(-1);
    this.functions = new Int32Array(d.functions.length).fill(-1);
    this.locations = new Int32Array(d.locations.length).fill(-1);
    this.stacks = new Int32Array(d.stacks.length).fill(-1);
  }
}

/** FNV-1a over the indices' 32-bit values. */
function hashIndices(xs: readonly number[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < xs.length; i++) h = Math.imul(h ^ xs[i]!, 0x01000193);
  return h;
}

function sameIndices(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
