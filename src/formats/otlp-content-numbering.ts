import type { SymbolDictionary } from '../model/symbols.js';
import { GNU_BUILD_ID_ATTRIBUTE } from './otlp-attributes.js';
import { FRAME_TYPE_ATTRIBUTE, frameTypeOf, NATIVE } from './otlp-frame-type.js';

/**
 * Every OTLP dictionary entry a source dictionary's entries become, numbered by content once. An OTLP
 * request de-duplicates its tables by content; building a content key (a string) for every entry of
 * every request cost the agent 15–19 ms per steady interval (bench/agent-per-pid.ts, issue 11), more
 * than building the interval. Here a source entry's key is built the first time it is used and its
 * content number (`cid`) kept, so a request over a dictionary kept across intervals
 * (agent/exporter-profiles.ts) looks up numbers only; it keys only entries it has never met.
 *
 * Content numbers are this object's own (1, 2, …); equal content ⇔ equal number, per kind, exactly as
 * the request's own de-duplication decides (otlp-request-dictionary.ts). What is remembered of a source
 * dictionary lives as long as that dictionary object (a WeakMap); the content tables are dropped whole
 * past `maxEntries` locations plus stacks, checked between requests.
 */
export class OtlpContentNumbering {
  private tables = new ContentTables();
  /** What each content number became in the current request, per kind (kept: they grow once). */
  readonly slots = { strings: new RequestSlots(), attributes: new RequestSlots(), mappings: new RequestSlots(), functions: new RequestSlots(), locations: new RequestSlots(), stacks: new RequestSlots() };
  private sources = new WeakMap<SymbolDictionary, SourceNumbers>();
  /** The request being built; a request's slots are valid while this is its generation. */
  private generation = 0;
  resets = 0;

  constructor(private readonly maxEntries = 250_000) {}

  get content(): ContentTables {
    return this.tables;
  }

  /** Starts a request: returns its generation (any earlier request's slots go stale). */
  beginRequest(): number {
    if (this.tables.size > this.maxEntries) {
      this.tables = new ContentTables();
      this.sources = new WeakMap();
      this.resets++;
    }
    return ++this.generation;
  }

  isCurrent(generation: number): boolean {
    return generation === this.generation;
  }

  source(src: SymbolDictionary): SourceNumbers {
    let s = this.sources.get(src);
    if (!s) this.sources.set(src, (s = new SourceNumbers(src, this.tables)));
    return s;
  }
}

/** Content → number per kind, and what each number stands for. Index 0 of every column is unused. */
export class ContentTables {
  readonly strings: string[] = [''];
  readonly attributeKey: number[] = [0];
  readonly attributeValue: string[] = [''];
  readonly mappingFile: number[] = [0];
  /** Attribute number of the mapping's build id; 0: none. */
  readonly mappingBuildId: number[] = [0];
  readonly functionName: number[] = [0];
  readonly functionSystemName: number[] = [0];
  readonly functionFile: number[] = [0];
  private readonly stringIds = new Map<string, number>([['', 0]]);
  private readonly attributeIds = new Map<string, number>();
  private readonly mappingIds = new Map<string, number>();
  private readonly functionIds = new Map<string, number>();
  private readonly locationIds = new NumberLists();
  private readonly stackIds = new NumberLists();
  /** The `profile.frame.type` = native attribute: a location without a mapping has it. */
  readonly nativeFrameType: number;

  constructor() {
    this.nativeFrameType = this.attribute(FRAME_TYPE_ATTRIBUTE, NATIVE);
  }

  /** Locations plus stacks: what grows with the frames seen. */
  get size(): number {
    return this.locationIds.size + this.stackIds.size;
  }

  string(s: string): number {
    let i = this.stringIds.get(s);
    if (i === undefined) this.stringIds.set(s, (i = this.strings.push(s) - 1));
    return i;
  }

  attribute(key: string, value: string): number {
    const k = this.string(key);
    return numbered(this.attributeIds, `${k}\0${value}`, () => {
      this.attributeValue.push(value);
      return this.attributeKey.push(k) - 1;
    });
  }

  mapping(fileName: string, buildId: string): number {
    const file = this.string(fileName);
    return numbered(this.mappingIds, `${file}\0${buildId}`, () => {
      this.mappingBuildId.push(buildId ? this.attribute(GNU_BUILD_ID_ATTRIBUTE, buildId) : 0);
      return this.mappingFile.push(file) - 1;
    });
  }

  function(name: string, systemName: string, file: string): number {
    const n = this.string(name);
    const s = this.string(systemName);
    const f = this.string(file);
    return numbered(this.functionIds, `${n},${s},${f}`, () => {
      this.functionSystemName.push(s);
      this.functionFile.push(f);
      return this.functionName.push(n) - 1;
    });
  }

  /** `content`: mapping and frame type numbers, then each line's function number and line (or -1 and the address). */
  location(content: readonly number[]): number {
    return this.locationIds.number(content);
  }

  stack(locations: readonly number[]): number {
    return this.stackIds.number(locations);
  }
}

/**
 * One source dictionary's entries as content numbers (computed on first use), and what its locations
 * and stacks became in the current request (stamped slots: a new request needs no clearing).
 */
export class SourceNumbers {
  /** Per source mapping: its frame type attribute, and its mapping (0: no file and no build id). */
  readonly mappingFrameType = new NumberColumn();
  readonly mappings = new NumberColumn();
  readonly functions = new NumberColumn();
  readonly locations = new NumberColumn();
  readonly stacks = new NumberColumn();
  readonly requestLocations = new RequestSlots();
  readonly requestStacks = new RequestSlots();

  constructor(
    private readonly src: SymbolDictionary,
    private readonly tables: ContentTables,
  ) {}

  mapping(mi: number): number {
    return this.mappings.get(mi, this.numberMapping);
  }

  function(fi: number): number {
    return this.functions.get(fi, this.numberFunction);
  }

  location(li: number): number {
    return this.locations.get(li, this.numberLocation);
  }

  stack(si: number): number {
    return this.stacks.get(si, this.numberStack);
  }

  // Bound once (each is called per entry met in a request, not per entry numbered).
  private readonly numberMapping = (mi: number): number => {
    const m = this.src.mappings[mi]!;
    const { frameType, fileName } = frameTypeOf(m.binary);
    this.mappingFrameType.set(mi, this.tables.attribute(FRAME_TYPE_ATTRIBUTE, frameType));
    return fileName === '' && m.buildId === '' ? 0 : this.tables.mapping(fileName, m.buildId);
  };

  private readonly numberFunction = (fi: number): number => {
    const f = this.src.functions[fi]!;
    return this.tables.function(f.name, f.systemName, f.file);
  };

  private readonly numberLocation = (li: number): number => {
    const loc = this.src.locations[li]!;
    const content = loc.mapping >= 0 ? [this.mapping(loc.mapping), this.mappingFrameType.get(loc.mapping)] : [0, this.tables.nativeFrameType];
    for (const ln of loc.lines) content.push(this.function(ln.function), ln.line);
    // Symbolized frames are their lines (as in the Kiln model); only unsymbolized ones need the address.
    if (loc.lines.length === 0) content.push(-1, Number(BigInt.asUintN(32, loc.address)), Number(BigInt.asUintN(32, loc.address >> 32n)));
    return this.tables.location(content);
  };

  private readonly numberStack = (si: number): number => this.tables.stack(this.src.stacks[si]!.map((li) => this.location(li)));
}

/**
 * Lists of numbers numbered by content (1, 2, …): by a hash and a compare, not a key string built per
 * list — a short-lived process brings tens of new locations and stacks.
 */
class NumberLists {
  private readonly byHash = new Map<number, number[]>();
  private readonly lists: (readonly number[])[] = [[]];

  get size(): number {
    return this.lists.length - 1;
  }

  number(xs: readonly number[]): number {
    const h = hashNumbers(xs);
    const bucket = this.byHash.get(h);
    if (bucket) for (const c of bucket) if (sameNumbers(this.lists[c]!, xs)) return c;
    const c = this.lists.push(xs) - 1;
    if (bucket) bucket.push(c);
    else this.byHash.set(h, [c]);
    return c;
  }
}

/** FNV-1a over the numbers' 32-bit values. */
function hashNumbers(xs: readonly number[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < xs.length; i++) h = Math.imul(h ^ xs[i]!, 0x01000193);
  return h;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The number of `key` in `ids`; `add` numbers a key met for the first time (and records what it stands for). */
function numbered(ids: Map<string, number>, key: string, add: () => number): number {
  let i = ids.get(key);
  if (i === undefined) ids.set(key, (i = add()));
  return i;
}

/** A growable column of non-negative numbers by index; -1 where nothing was set. */
class NumberColumn {
  /** Value + 1, so a fresh (zeroed) array reads as unset. */
  private values = new Int32Array(256);

  /** The value at `i`; -1 if none, or with `first`, what it gives, kept. */
  get(i: number, first?: (i: number) => number): number {
    const v = i < this.values.length ? this.values[i]! - 1 : -1;
    if (v >= 0 || !first) return v;
    const c = first(i);
    this.set(i, c);
    return c;
  }

  set(i: number, v: number): void {
    if (i >= this.values.length) this.values = grown(this.values, i);
    this.values[i] = v + 1;
  }
}

/** Index in the current request by number; a slot counts only if stamped with the request's generation. */
export class RequestSlots {
  private index = new Int32Array(256);
  private stamp = new Int32Array(256);

  get(i: number, generation: number): number {
    return i < this.stamp.length && this.stamp[i] === generation ? this.index[i]! : -1;
  }

  set(i: number, generation: number, v: number): void {
    if (i >= this.stamp.length) {
      this.index = grown(this.index, i);
      this.stamp = grown(this.stamp, i);
    }
    this.index[i] = v;
    this.stamp[i] = generation;
  }
}

function grown(a: Int32Array<ArrayBuffer>, i: number): Int32Array<ArrayBuffer> {
  let n = a.length * 2;
  while (n <= i) n *= 2;
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
