import type { DecodeLimits } from './decode-limits.js';
import { limitExceeded } from './decode-limits.js';
import { JfrInput, malformedJfr, readJfrString } from './jfr-input.js';

/**
 * Java Flight Recorder files, read from the format itself (OpenJDK's jdk.jfr.internal writer and
 * consumer, async-profiler's writer): a file is one or more chunks; a chunk is a 68-byte header and
 * events. Event type 0 is the metadata (every type's fields, in order), type 1 a checkpoint (constant
 * pools: classes, methods, symbols, stack traces, threads …); the others are recorded events, read
 * generically from the metadata. Every offset and count is checked against the bytes that hold it.
 */

const MAGIC = [0x46, 0x4c, 0x52, 0x00]; // "FLR\0"
const HEADER_BYTES = 68;
const COMPRESSED_INTEGERS = 1;
const METADATA_EVENT = 0;
const CHECKPOINT_EVENT = 1;
/** Nesting of inline (not pooled) values; real recordings use 3 (stack trace → frame → fields). */
const MAX_NESTING = 16;

export interface JfrField {
  readonly name: string;
  readonly typeId: number;
  readonly array: boolean;
  /** Written as a constant-pool id (a long) instead of inline. */
  readonly constantPool: boolean;
}

export interface JfrClass {
  readonly id: number;
  readonly name: string;
  readonly fields: readonly JfrField[];
}

/** A decoded value: primitives, strings, arrays, objects by field name; pooled fields are their id (a number). */
export type JfrValue = number | boolean | string | null | readonly JfrValue[] | JfrObject;
export interface JfrObject {
  readonly [field: string]: JfrValue;
}

export interface JfrChunkHeader {
  readonly start: number;
  readonly size: number;
  readonly startNanos: number;
  readonly durationNanos: number;
  readonly ticksPerSecond: number;
  readonly compressed: boolean;
}

export interface JfrEvent {
  readonly type: JfrClass;
  readonly value: JfrObject;
}

/** One chunk: its types and constant pools, and an iterator over the events of the types asked for. */
export class JfrChunk {
  private readonly byName = new Map<string, JfrClass>();
  private readonly pools = new Map<number, Map<number, JfrValue>>();
  private stringPool: Map<number, JfrValue> | undefined;
  private poolFrames = 0;
  /**
   * Objects built so far: a type whose fields take no bytes (fields of empty types) could otherwise
   * expand a few bytes into millions of objects. Real values take at least a byte each.
   */
  private objects = 0;
  private readonly maxObjects: number;

  constructor(
    private readonly buf: Uint8Array,
    readonly header: JfrChunkHeader,
    private readonly classes: Map<number, JfrClass>,
    private readonly limits?: DecodeLimits,
  ) {
    for (const c of classes.values()) this.byName.set(c.name, c);
    this.maxObjects = 4 * header.size + 100_000;
  }

  classNamed(name: string): JfrClass | undefined {
    return this.byName.get(name);
  }

  /** The constant `id` of the pool of type `typeName` (e.g. `jdk.types.StackTrace`), if present. */
  constant(typeName: string, id: JfrValue): JfrValue | undefined {
    const cls = this.byName.get(typeName);
    if (!cls || typeof id !== 'number') return undefined;
    return this.pools.get(cls.id)?.get(id);
  }

  /** Reads every checkpoint of the chunk (scanned in order, not by the back-links, which could loop). */
  readConstantPools(): void {
    this.stringPool = this.poolOf(this.byName.get('java.lang.String')?.id ?? -1);
    for (const { type, input } of this.eventRegions()) {
      if (type !== CHECKPOINT_EVENT) continue;
      input.long(); // start time
      input.long(); // duration
      input.long(); // delta to the previous checkpoint
      input.u8(); // type mask (flush point or not)
      const pools = input.count('constant pool', 2);
      for (let p = 0; p < pools; p++) {
        const typeAt = input.pos;
        const typeId = input.long();
        const cls = this.classes.get(typeId);
        if (!cls) throw malformedJfr(`constant pool of undeclared type ${typeId}`, typeAt);
        const n = input.count(`${cls.name} constant`);
        if (cls.name === 'jdk.types.StackTrace' && this.limits && n > this.limits.maxStacksPerRequest) {
          throw limitExceeded('max_stacks_per_request', `the JFR holds more than ${this.limits.maxStacksPerRequest} stack traces`);
        }
        const pool = this.poolOf(typeId);
        for (let i = 0; i < n; i++) {
          const id = input.long();
          const value = this.readValue(input, cls, 0);
          if (cls.name === 'jdk.types.StackTrace') this.checkStackTrace(value);
          pool.set(id, value);
        }
      }
    }
  }

  /** Events whose type is one of `typeNames`, in file order; any other event is skipped by its size. */
  *events(typeNames: ReadonlySet<string>): Generator<JfrEvent> {
    const wanted = new Map<number, JfrClass>();
    for (const c of this.classes.values()) if (typeNames.has(c.name)) wanted.set(c.id, c);
    if (wanted.size === 0) return;
    for (const { type, input } of this.eventRegions()) {
      const cls = wanted.get(type);
      if (cls) yield { type: cls, value: this.readValue(input, cls, 0) as JfrObject };
    }
  }

  private checkStackTrace(value: JfrValue): void {
    if (!this.limits || typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const frames = (value as JfrObject)['frames'];
    const depth = Array.isArray(frames) ? frames.length : 0;
    if (depth > this.limits.maxStackDepth) throw limitExceeded('max_stack_depth', `a stack is ${depth} frames deep, more than ${this.limits.maxStackDepth}`);
    this.poolFrames += depth;
    if (this.poolFrames > this.limits.maxFramesPerRequest) {
      throw limitExceeded('max_frames_per_request', `the JFR's stack traces hold more than ${this.limits.maxFramesPerRequest} frames in all`);
    }
  }

  private poolOf(typeId: number): Map<number, JfrValue> {
    let pool = this.pools.get(typeId);
    if (!pool) {
      pool = new Map();
      this.pools.set(typeId, pool);
    }
    return pool;
  }

  /**
   * Each event's type and a cursor over its fields, in file order. The cursor is shared: it is only
   * valid until the next step of the iteration.
   */
  private *eventRegions(): Generator<{ readonly type: number; readonly input: JfrInput }> {
    const end = this.header.start + this.header.size;
    const input = new JfrInput(this.buf, this.header.start + HEADER_BYTES, end, this.header.compressed);
    let pos = input.pos;
    while (pos < end) {
      input.moveTo(pos, end);
      const size = input.int();
      if (size <= 0 || pos + size > end) throw malformedJfr(`event size ${size} runs past the chunk's end`, pos);
      input.end = pos + size;
      yield { type: input.long(), input };
      pos += size;
    }
  }

  private readValue(input: JfrInput, cls: JfrClass, depth: number): JfrValue {
    switch (cls.name) {
      case 'boolean':
        return input.u8() !== 0;
      case 'byte':
        return (input.u8() << 24) >> 24;
      case 'char':
        return input.char();
      case 'short':
        return input.short();
      case 'int':
        return input.int();
      case 'long':
        return input.long();
      case 'float':
        return input.float();
      case 'double':
        return input.double();
      case 'java.lang.String': {
        const s = readJfrString(input);
        if (s === null || typeof s === 'string') return s;
        const pooled = this.stringPool?.get(s.poolRef);
        return typeof pooled === 'string' ? pooled : null;
      }
    }
    if (depth > MAX_NESTING) throw malformedJfr(`values of ${cls.name} nest more than ${MAX_NESTING} deep`, input.pos);
    if (++this.objects > this.maxObjects) throw malformedJfr(`its types expand into more than ${this.maxObjects} values, far more than its ${this.header.size} bytes hold`, input.pos);
    const out: Record<string, JfrValue> = {};
    for (const f of cls.fields) {
      if (!f.array) {
        out[f.name] = this.readField(input, f, depth);
        continue;
      }
      const n = input.count(`${cls.name}.${f.name} element`);
      const arr: JfrValue[] = new Array<JfrValue>(n);
      for (let i = 0; i < n; i++) arr[i] = this.readField(input, f, depth);
      out[f.name] = arr;
    }
    return out;
  }

  private readField(input: JfrInput, f: JfrField, depth: number): JfrValue {
    if (f.constantPool) return input.long();
    const cls = this.classes.get(f.typeId);
    if (!cls) throw malformedJfr(`field ${f.name} has undeclared type ${f.typeId}`, input.pos);
    return this.readValue(input, cls, depth + 1);
  }
}

function readHeader(buf: Uint8Array, start: number): JfrChunkHeader & { metaOffset: number } {
  if (buf.length - start < HEADER_BYTES) throw malformedJfr(`a chunk header needs ${HEADER_BYTES} bytes, ${buf.length - start} left (truncated?)`, start);
  for (let i = 0; i < 4; i++) {
    if (buf[start + i] !== MAGIC[i]) throw malformedJfr('not a JFR chunk (no "FLR\\0" magic)', start);
  }
  const input = new JfrInput(buf, start + 4, start + HEADER_BYTES, false);
  const major = (input.u8() << 8) | input.u8();
  input.u8();
  input.u8(); // minor
  if (major !== 2) throw malformedJfr(`JFR version ${major} is not supported (Kiln reads version 2, JDK 11 and later, async-profiler)`, start + 4);
  const size = input.fixed64();
  input.fixed64(); // last checkpoint's offset: checkpoints are found by scanning instead
  const metaOffset = input.fixed64();
  const startNanos = input.fixed64();
  const durationNanos = input.fixed64();
  input.fixed64(); // start ticks
  const ticksPerSecond = input.fixed64();
  const features = input.fixed32();
  if (size < HEADER_BYTES || start + size > buf.length) throw malformedJfr(`chunk size ${size} runs past the file's ${buf.length} bytes (truncated?)`, start + 8);
  if (metaOffset < HEADER_BYTES || metaOffset >= size) throw malformedJfr(`metadata offset ${metaOffset} is outside the chunk`, start + 24);
  return { start, size, metaOffset, startNanos, durationNanos, ticksPerSecond, compressed: (features & COMPRESSED_INTEGERS) !== 0 };
}

interface Element {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly Element[];
}

/** The metadata event: a string table, then a tree of elements whose `class` elements declare the types. */
function readMetadata(buf: Uint8Array, header: JfrChunkHeader & { metaOffset: number }): Map<number, JfrClass> {
  const at = header.start + header.metaOffset;
  const chunkEnd = header.start + header.size;
  const sizeReader = new JfrInput(buf, at, chunkEnd, header.compressed);
  const size = sizeReader.int();
  if (size <= 0 || at + size > chunkEnd) throw malformedJfr(`metadata event size ${size} runs past the chunk's end`, at);
  const input = new JfrInput(buf, sizeReader.pos, at + size, header.compressed);
  if (input.long() !== METADATA_EVENT) throw malformedJfr('the metadata offset does not point at a metadata event', at);
  input.long(); // start time
  input.long(); // duration
  input.long(); // metadata id
  const strings: string[] = [];
  const n = input.count('metadata string');
  for (let i = 0; i < n; i++) {
    const s = readJfrString(input);
    strings.push(typeof s === 'string' ? s : '');
  }
  const str = (): string => {
    const idxAt = input.pos;
    const i = input.int();
    if (i < 0 || i >= strings.length) throw malformedJfr(`metadata string index ${i} is outside its ${strings.length} strings`, idxAt);
    return strings[i]!;
  };
  const element = (depth: number): Element => {
    if (depth > MAX_NESTING) throw malformedJfr('metadata elements nest too deep', input.pos);
    const name = str();
    const attributes = new Map<string, string>();
    const attrs = input.count('metadata attribute', 2);
    for (let i = 0; i < attrs; i++) attributes.set(str(), str());
    const children: Element[] = [];
    const kids = input.count('metadata element', 3);
    for (let i = 0; i < kids; i++) children.push(element(depth + 1));
    return { name, attributes, children };
  };
  const root = element(0);
  const classes = new Map<number, JfrClass>();
  const visit = (e: Element): void => {
    if (e.name === 'class') {
      const id = Number(e.attributes.get('id'));
      const name = e.attributes.get('name');
      if (!Number.isSafeInteger(id) || name === undefined) throw malformedJfr('a metadata class has no id or name', at);
      const fields: JfrField[] = [];
      for (const f of e.children) {
        if (f.name !== 'field') continue;
        const typeId = Number(f.attributes.get('class'));
        if (!Number.isSafeInteger(typeId)) throw malformedJfr(`field ${f.attributes.get('name') ?? '?'} of ${name} has no type`, at);
        fields.push({
          name: f.attributes.get('name') ?? '',
          typeId,
          array: f.attributes.get('dimension') === '1',
          constantPool: f.attributes.get('constantPool') === 'true',
        });
      }
      classes.set(id, { id, name, fields });
      return;
    }
    for (const c of e.children) visit(c);
  };
  visit(root);
  return classes;
}

/** Every chunk of a JFR file, in order, with its metadata read and its constant pools loaded. */
export function* readJfrChunks(buf: Uint8Array, limits?: DecodeLimits): Generator<JfrChunk> {
  if (buf.length === 0) throw malformedJfr('empty file', 0);
  let start = 0;
  while (start < buf.length) {
    const header = readHeader(buf, start);
    const chunk = new JfrChunk(buf, header, readMetadata(buf, header), limits);
    chunk.readConstantPools();
    yield chunk;
    start += header.size;
  }
}
