import type { ExportProfilesServiceRequest } from '../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js';
import { DecodeBudget, type DecodeLimits } from './decode-limits.js';

/**
 * The decode-time limits (decode-limits.ts) for OTLP profiles: samples per profile, distinct stacks
 * (the entries of the request's stack_table), frames summed over every sample's stack, stack depth.
 *
 * A binary body is checked on the wire, before it is parsed: the protobuf runtime turns each sample
 * into an object of three arrays (≈ 250 bytes for 5 bytes on the wire), so a 64 MiB body of tiny
 * samples would take gigabytes before any later check could run. The walk allocates nothing per
 * sample; it reads stack depths from the dictionary first, then each sample's stack_index.
 * A request that arrives parsed (gRPC, where Connect parsed it; JSON) is checked as objects, before
 * it is translated into Kiln's dictionary and profiles.
 */

// Field numbers (opentelemetry-proto profiles/v1development, collector ExportProfilesServiceRequest).
const REQUEST_RESOURCE_PROFILES = 1;
const REQUEST_DICTIONARY = 2;
/** The dictionary's tables are its fields 1 (mapping_table) to 7 (stack_table). */
const DICTIONARY_FIRST_TABLE = 1;
const DICTIONARY_STACK_TABLE = 7;
const STACK_LOCATION_INDICES = 1;
const RESOURCE_SCOPE_PROFILES = 2;
const SCOPE_PROFILES = 2;
const PROFILE_SAMPLES = 2;
const SAMPLE_STACK_INDEX = 1;

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** The bytes are not protobuf this walk can follow: the parser that runs next says what is wrong. */
class Malformed extends Error {}

/** A read position inside `[pos, end)` of one buffer: varints and field skips, no allocation. */
class Cursor {
  constructor(
    private readonly b: Uint8Array,
    public pos: number,
    public end: number,
  ) {
    if (end > b.length) throw new Malformed();
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10 && this.pos < this.end; i++) {
      const c = this.b[this.pos++]!;
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
    throw new Malformed();
  }

  /** The value of a length-delimited field as its own cursor; this one moves past it. */
  sub(): Cursor {
    const len = this.varint();
    const c = new Cursor(this.b, this.pos, this.pos + len);
    this.pos += len;
    return c;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === FIXED32) this.pos += 4;
    else if (wireType === LENGTH_DELIMITED) {
      const len = this.varint(); // read first: `pos += varint()` would add to the position before the length
      this.pos += len;
    }
    else throw new Malformed(); // groups: nothing in these messages uses them
    if (this.pos > this.end) throw new Malformed();
  }

  /** Varints packed in `[pos, end)`: each ends with the one byte whose high bit is clear. */
  packedCount(): number {
    let n = 0;
    for (let i = this.pos; i < this.end; i++) if (this.b[i]! < 0x80) n++;
    return n;
  }

  /** Reads a length-delimited Sample in place and returns its stack_index (0 when absent, as protobuf defaults). */
  sampleStackIndex(): number {
    const len = this.varint();
    const outer = this.end;
    const end = this.pos + len;
    if (end > outer) throw new Malformed();
    let index = 0;
    this.end = end;
    while (this.more()) {
      const tag = this.varint();
      if (tag === ((SAMPLE_STACK_INDEX << 3) | VARINT)) index = this.varint();
      else this.skip(tag & 7);
    }
    this.end = outer;
    return index;
  }

  /** Calls `visit` with each field's number and wire type; `visit` reads or skips the value. */
  eachField(visit: (no: number, wireType: number) => void): void {
    while (this.more()) {
      const tag = this.varint();
      visit(tag >>> 3, tag & 7);
    }
  }

  /** Calls `visit` with the cursor of each length-delimited field `no`; skips every other field. */
  each(no: number, visit: (c: Cursor) => void): void {
    while (this.more()) {
      const tag = this.varint();
      const wireType = tag & 7;
      if (tag >>> 3 === no && wireType === LENGTH_DELIMITED) visit(this.sub());
      else this.skip(wireType);
    }
  }
}

/** Throws the limit's 413 when a binary ExportProfilesServiceRequest breaks one; malformed bytes are left to the parser. */
export function checkOtlpWireLimits(bytes: Uint8Array, limits: DecodeLimits): void {
  const budget = new DecodeBudget(limits);
  try {
    const depths = wireStackDepths(bytes, budget);
    new Cursor(bytes, 0, bytes.length).each(REQUEST_RESOURCE_PROFILES, (rp) =>
      rp.each(RESOURCE_SCOPE_PROFILES, (sp) =>
        sp.each(SCOPE_PROFILES, (profile) => {
          budget.beginProfile();
          let i = 0;
          // Inline rather than `each`: no cursor or closure call per sample (500 000 of them: 160 → 30 ms).
          while (profile.more()) {
            const tag = profile.varint();
            if (tag === ((PROFILE_SAMPLES << 3) | LENGTH_DELIMITED)) budget.countSample(i++, depths[profile.sampleStackIndex()] ?? 0);
            else profile.skip(tag & 7);
          }
        }),
      ),
    );
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
  }
}

/**
 * The depth of every stack_table entry, in order (a repeated dictionary field concatenates, as protobuf
 * merges); every entry of every table counts toward max_symbols_per_request.
 */
function wireStackDepths(bytes: Uint8Array, budget: DecodeBudget): number[] {
  const depths: number[] = [];
  new Cursor(bytes, 0, bytes.length).each(REQUEST_DICTIONARY, (dict) =>
    dict.eachField((no, wireType) => {
      if (wireType !== LENGTH_DELIMITED || no < DICTIONARY_FIRST_TABLE || no > DICTIONARY_STACK_TABLE) return dict.skip(wireType);
      budget.symbols(1);
      if (no !== DICTIONARY_STACK_TABLE) return dict.skip(wireType);
      const stack = dict.sub();
      let depth = 0;
      while (stack.more()) {
        const tag = stack.varint();
        const wireType = tag & 7;
        if (tag >>> 3 === STACK_LOCATION_INDICES && wireType === LENGTH_DELIMITED) {
          const packed = stack.sub();
          depth += packed.packedCount();
        } else {
          if (tag >>> 3 === STACK_LOCATION_INDICES && wireType === VARINT) depth++;
          stack.skip(wireType);
        }
      }
      budget.stackDepth(depth);
      budget.tableStacks(1);
      depths.push(depth);
    }),
  );
  return depths;
}


/** The JSON keys (both spellings) of the arrays whose elements are counted. */
const JSON_SAMPLES = new Set(['samples']);
const JSON_TABLES = new Set([
  'mappingTable', 'mapping_table', 'locationTable', 'location_table', 'functionTable', 'function_table', 'linkTable', 'link_table',
  'stringTable', 'string_table', 'attributeTable', 'attribute_table', 'stackTable', 'stack_table',
]);
const MAX_KEY = 16;

/**
 * max_samples_per_request and max_symbols_per_request on an OTLP/JSON body's text, before JSON.parse
 * builds its objects (a 61 MiB body of 2 million samples peaked at 1.4 GiB before a later check refused
 * it). One pass, a few ns a character: it follows strings, nesting and the key of each array, and
 * counts the elements of `samples` arrays and of the dictionary's tables. Malformed JSON is left to
 * JSON.parse, which says what is wrong.
 */
export function checkOtlpJsonLimits(text: string, limits: DecodeLimits): void {
  const budget = new DecodeBudget(limits);
  // Per open container: 1 = a samples array, 2 = a table array, 0 = anything else.
  const kinds: number[] = [];
  let pendingKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const parent = kinds.length > 0 ? kinds[kinds.length - 1]! : 0;
    if (c === 0x22) {
      // A string: skip to its closing quote. Followed by ':' it is a key, else a value (a string-table entry in a table).
      const from = i + 1;
      for (i = from; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) <= 0x20) j++;
      if (text.charCodeAt(j) === 0x3a) pendingKey = i - from <= MAX_KEY ? text.slice(from, i) : '';
      else if (parent === 2) budget.symbols(1);
    } else if (c === 0x5b || c === 0x7b) {
      // The `{` of a sample object, or a `{` / `[` directly in a table: one element each.
      if (parent === 1 && c === 0x7b) budget.countSample(0, 0);
      else if (parent === 2) budget.symbols(1);
      kinds.push(c === 0x5b ? (JSON_SAMPLES.has(pendingKey) ? 1 : JSON_TABLES.has(pendingKey) ? 2 : 0) : 0);
      pendingKey = '';
    } else if (c === 0x5d || c === 0x7d) {
      kinds.pop();
    }
  }
}

/** The same limits over a request already parsed (gRPC, JSON), before it is translated. */
export function checkOtlpRequestLimits(req: ExportProfilesServiceRequest, limits: DecodeLimits): void {
  const budget = new DecodeBudget(limits);
  const d = req.dictionary;
  if (d) budget.symbols(d.mappingTable.length + d.locationTable.length + d.functionTable.length + d.linkTable.length + d.stringTable.length + d.attributeTable.length + d.stackTable.length);
  const depths = (d?.stackTable ?? []).map((s) => s.locationIndices.length);
  for (const d of depths) budget.stackDepth(d);
  budget.tableStacks(depths.length);
  for (const rp of req.resourceProfiles) {
    for (const sp of rp.scopeProfiles) {
      for (const p of sp.profiles) {
        budget.beginProfile();
        p.samples.forEach((s, i) => budget.countSample(i, depths[s.stackIndex] ?? 0));
      }
    }
  }
}
