import type { SymbolDictionary } from '../model/symbols.js';
import { OtlpContentNumbering, type ContentTables, type SourceNumbers } from './otlp-content-numbering.js';

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
 * entry the specification reserves), de-duplicated by content, each entry placed where it is first
 * used. Both encoders fill it — otlp-encode.ts (protobuf messages, JSON) and the agent's byte writer —
 * so their requests hold the same tables in the same order.
 *
 * Content is compared by number (otlp-content-numbering.ts): a source entry is keyed once, the first
 * time any request uses it. The agent passes one numbering for all its requests, so a steady interval
 * over its kept dictionary only looks numbers up; without one, each request numbers afresh.
 * The tables a request gets do not depend on what earlier requests held.
 */
export class OtlpRequestDictionary {
  readonly strings: string[] = [''];
  readonly attributes: OtlpAttributeEntry[] = [{ key: 0, value: '' }];
  readonly mappings: OtlpMappingEntry[] = [{ filename: 0, buildIdAttribute: 0 }];
  readonly functions: OtlpFunctionEntry[] = [{ name: 0, systemName: 0, file: 0 }];
  readonly locations: OtlpLocationEntry[] = [{ mapping: 0, address: 0n, functions: [], lines: [], frameType: 0 }];
  readonly stacks: (readonly number[])[] = [[]];
  private readonly generation: number;
  private readonly content: ContentTables;
  /** This request's index of each content number, per kind (the numbering's, stamped with this request). */
  private readonly at: OtlpContentNumbering['slots'];
  private lastSource: SymbolDictionary | undefined;
  private lastNumbers: SourceNumbers | undefined;

  /** `numbering` serves one request at a time: a request started later makes this one unusable. */
  constructor(private readonly numbering = new OtlpContentNumbering()) {
    this.generation = numbering.beginRequest();
    this.content = numbering.content;
    this.at = numbering.slots;
    this.at.strings.set(0, this.generation, 0);
  }

  string(s: string): number {
    return this.stringOf(this.content.string(s));
  }

  stringAttribute(key: string, value: string): number {
    return this.attributeOf(this.content.attribute(key, value));
  }

  stack(src: SymbolDictionary, si: number): number {
    const at = this.source(src);
    let i = at.requestStacks.get(si, this.generation);
    if (i >= 0) return i;
    const c = at.stack(si);
    i = this.at.stacks.get(c, this.generation);
    if (i < 0) {
      const locs = src.stacks[si]!.map((li) => this.location(src, at, li));
      i = this.stacks.push(locs) - 1;
      this.at.stacks.set(c, this.generation, i);
    }
    at.requestStacks.set(si, this.generation, i);
    return i;
  }

  private source(src: SymbolDictionary): SourceNumbers {
    if (!this.numbering.isCurrent(this.generation)) throw new Error('OtlpRequestDictionary used after a later request began on its numbering');
    if (src !== this.lastSource) {
      this.lastSource = src;
      this.lastNumbers = this.numbering.source(src);
    }
    return this.lastNumbers!;
  }

  // Each xOf(number) below adds an entry the first time this request meets it, after what it refers to
  // — in the order the entries' first uses come, which is the tables' order.

  private stringOf(c: number): number {
    let i = this.at.strings.get(c, this.generation);
    if (i < 0) this.at.strings.set(c, this.generation, (i = this.strings.push(this.content.strings[c]!) - 1));
    return i;
  }

  private attributeOf(c: number): number {
    let i = this.at.attributes.get(c, this.generation);
    if (i >= 0) return i;
    const key = this.stringOf(this.content.attributeKey[c]!);
    this.at.attributes.set(c, this.generation, (i = this.attributes.push({ key, value: this.content.attributeValue[c]! }) - 1));
    return i;
  }

  private mappingOf(c: number): number {
    let i = this.at.mappings.get(c, this.generation);
    if (i >= 0) return i;
    const filename = this.stringOf(this.content.mappingFile[c]!);
    const b = this.content.mappingBuildId[c]!;
    const buildIdAttribute = b ? this.attributeOf(b) : 0;
    this.at.mappings.set(c, this.generation, (i = this.mappings.push({ filename, buildIdAttribute }) - 1));
    return i;
  }

  private functionOf(c: number): number {
    let i = this.at.functions.get(c, this.generation);
    if (i >= 0) return i;
    const t = this.content;
    const name = this.stringOf(t.functionName[c]!);
    const systemName = this.stringOf(t.functionSystemName[c]!);
    const file = this.stringOf(t.functionFile[c]!);
    this.at.functions.set(c, this.generation, (i = this.functions.push({ name, systemName, file }) - 1));
    return i;
  }

  private location(src: SymbolDictionary, at: SourceNumbers, li: number): number {
    let i = at.requestLocations.get(li, this.generation);
    if (i >= 0) return i;
    const c = at.location(li);
    i = this.at.locations.get(c, this.generation);
    if (i < 0) {
      // The frame type attribute of a location without mapping comes first, then the mapping's own.
      let frameType = this.attributeOf(this.content.nativeFrameType);
      const loc = src.locations[li]!;
      let mapping = 0;
      if (loc.mapping >= 0) {
        frameType = this.attributeOf(at.mappingFrameType.get(loc.mapping));
        const m = at.mappings.get(loc.mapping);
        if (m > 0) mapping = this.mappingOf(m);
      }
      const functions: number[] = [];
      const lines: number[] = [];
      for (const ln of loc.lines) {
        functions.push(this.functionOf(at.function(ln.function)));
        lines.push(ln.line);
      }
      // The address of the first frame of this content in this request (symbolized frames share one).
      i = this.locations.push({ mapping, address: loc.address, functions, lines, frameType }) - 1;
      this.at.locations.set(c, this.generation, i);
    }
    at.requestLocations.set(li, this.generation, i);
    return i;
  }
}
