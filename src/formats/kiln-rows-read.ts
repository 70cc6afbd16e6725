import type { Id } from '../model/ids.js';
import type { Labels } from '../model/labels.js';
import type { ProfileType } from '../model/profile-type.js';
import type { DecodeBudget } from './decode-limits.js';
import { checkSeriesLabels } from './decode-limits.js';
import { FUNCTION, LABEL, LINE, LOCATION, MAPPING, ROWS, SERIES, STACK } from './kiln-rows.js';
import { WireReader } from './pprof-wire.js';

/** A Kiln rows request (kiln-rows.ts) read into plain data, ids as bigints except the rows' (u32 words). */
export interface RowsMapping {
  readonly id: Id;
  readonly binary: string;
  readonly buildId: string;
}

export interface RowsFunction {
  readonly id: Id;
  readonly name: string;
  readonly systemName: string;
  readonly file: string;
}

export interface RowsLocation {
  readonly id: Id;
  /** 0n: no mapping. */
  readonly mappingId: Id;
  readonly address: bigint;
  readonly lines: { readonly functionId: Id; readonly line: number }[];
}

export interface RowsStack {
  readonly id: Id;
  /** Empty when `held`. */
  readonly locationIds: Id[];
  /** The reader's caller holds this stack (readRows' `held`): its frames were not read. */
  readonly held: boolean;
}

export interface RowsSeries {
  readonly labels: Labels;
  readonly type: ProfileType;
  readonly timeMs: number;
  readonly durationNs: number;
  readonly period: number;
  /** Row i's stack id as u32 words: low at 2i, high at 2i + 1. */
  readonly stackWords: Uint32Array;
  readonly values: number[];
}

/**
 * Every stack sent, every series, and the mappings, functions and locations the stacks not held need
 * (all of them without `held`); symbols only held stacks need are skipped unread.
 */
export interface RowsMessage {
  readonly mappings: RowsMapping[];
  readonly functions: RowsFunction[];
  readonly locations: RowsLocation[];
  readonly stacks: RowsStack[];
  readonly series: RowsSeries[];
}

/** Stacks the reader's caller already holds (the store's): their symbols are skipped, not read. */
export type HeldStacks = (lo: number, hi: number) => boolean;

const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const tag = (field: number, wire: number): number => field * 8 + wire;

/**
 * Reads a RowsRequest; `budget` checks the request's decode-time limits as it goes. With `held`, the
 * frames of the stacks it holds and the symbols only those need are not read: a symbol message is first
 * only delimited (and counted against the limits), then read if a stack not held reaches it. Agents of
 * one service send the same stacks, each once, so most of the symbols of their first pushes are of
 * stacks another agent's push has stored; reading and checking them cost more than the pushes' rows.
 */
export function readRows(buf: Uint8Array, budget: DecodeBudget, held?: HeldStacks): RowsMessage {
  const r = new WireReader(buf, 'Kiln rows request');
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RowsMessage = { mappings: [], functions: [], locations: [], stacks: [], series: [] };
  const str = (): string => {
    const end = r.lengthEnd();
    const s = text.toString('utf8', r.pos, end);
    r.pos = end;
    return s;
  };
  const id = (): Id => {
    r.advance(8);
    return readU64(buf, r.pos - 8);
  };
  /** The fields of the message in [r.pos, r.end): `field(t)` reads the value of tag `t` or returns false to skip it. */
  const fields = (field: (t: number) => boolean): void => {
    while (r.pos < r.end) {
      const t = r.varint();
      if (!field(t)) r.skipField(t);
    }
  };
  /** The fields of a nested message (a length prefix, then its fields). */
  const message = (field: (t: number) => boolean): void => {
    const outer = r.enter();
    fields(field);
    r.leave(outer);
  };
  /** Runs `read` on the message body at [start, end), then puts the reader back. */
  const within = <T>(start: number, end: number, read: () => T): T => {
    const [pos, outer] = [r.pos, r.end];
    r.pos = start;
    r.end = end;
    try {
      return read();
    } finally {
      r.pos = pos;
      r.end = outer;
    }
  };
  /** The id field (tag `idTag`) of the message at [start, end), skipping the others unread (0n if absent). */
  const idOf = (start: number, end: number, idTag: number): Id =>
    within(start, end, () => {
      let found = 0n;
      fields((t) => (t === idTag && found === 0n ? ((found = id()), true) : false));
      return found;
    });

  // One pass: stacks and series are read; mappings, functions and locations only delimited.
  const ranges = { mappings: [] as number[], functions: [] as number[], locations: [] as number[] };
  let symbols = 0;
  while (r.pos < r.end) {
    const t = r.varint();
    const kind = t === tag(ROWS.mappings, BYTES) ? ranges.mappings : t === tag(ROWS.functions, BYTES) ? ranges.functions : t === tag(ROWS.locations, BYTES) ? ranges.locations : undefined;
    if (kind !== undefined) {
      const end = r.lengthEnd();
      kind.push(r.pos, end);
      r.pos = end;
      symbols++;
    } else if (t === tag(ROWS.stacks, BYTES)) {
      let sid = 0n;
      let locStart = 0;
      let locEnd = 0;
      message((t) => {
        if (t === tag(STACK.id, FIXED64)) sid = id();
        else if (t === tag(STACK.locationIds, BYTES)) {
          locEnd = r.lengthEnd();
          if ((locEnd - r.pos) % 8 !== 0) r.fail('packed fixed64 field of a length not a multiple of 8');
          locStart = r.pos;
          r.pos = locEnd;
        } else return false;
        return true;
      });
      budget.stackDepth((locEnd - locStart) / 8);
      const isHeld = held !== undefined && held(Number(sid & 0xffffffffn), Number(sid >> 32n));
      const locationIds: Id[] = [];
      if (!isHeld) for (let at = locStart; at < locEnd; at += 8) locationIds.push(readU64(buf, at));
      out.stacks.push({ id: sid, locationIds, held: isHeld });
      symbols++;
    } else if (t === tag(ROWS.series, BYTES)) {
      out.series.push(readSeries(r, str, budget));
    } else r.skipField(t);
    if (symbols > 0 && (symbols & 1023) === 0) budget.symbols(1024);
  }
  budget.symbols(symbols & 1023);

  // Then the symbols the stacks not held reach (every one without `held`). A wanted set of undefined: all.
  let wantedLocations: Set<Id> | undefined;
  if (held !== undefined) {
    wantedLocations = new Set();
    for (const s of out.stacks) for (const l of s.locationIds) wantedLocations.add(l);
  }
  const wantedFunctions = wantedLocations && new Set<Id>();
  const wantedMappings = wantedLocations && new Set<Id>();
  const each = (spans: readonly number[], idTag: number, wanted: Set<Id> | undefined, read: () => void): void => {
    if (wanted !== undefined && wanted.size === 0) return;
    for (let k = 0; k < spans.length; k += 2) {
      const [start, end] = [spans[k]!, spans[k + 1]!];
      if (wanted === undefined || wanted.has(idOf(start, end, idTag))) within(start, end, read);
    }
  };
  each(ranges.locations, tag(LOCATION.id, FIXED64), wantedLocations, () => {
    const l: { id: Id; mappingId: Id; address: bigint; lines: { functionId: Id; line: number }[] } = { id: 0n, mappingId: 0n, address: 0n, lines: [] };
    fields((t) => {
      if (t === tag(LOCATION.id, FIXED64)) l.id = id();
      else if (t === tag(LOCATION.mappingId, FIXED64)) l.mappingId = id();
      else if (t === tag(LOCATION.address, VARINT)) l.address = r.uint64();
      else if (t === tag(LOCATION.lines, BYTES)) {
        const line = { functionId: 0n, line: 0 };
        message((t) => (t === tag(LINE.functionId, FIXED64) ? ((line.functionId = id()), true) : t === tag(LINE.line, VARINT) ? ((line.line = r.varint()), true) : false));
        l.lines.push(line);
        wantedFunctions?.add(line.functionId);
      } else return false;
      return true;
    });
    if (l.mappingId !== 0n) wantedMappings?.add(l.mappingId);
    out.locations.push(l);
  });
  each(ranges.functions, tag(FUNCTION.id, FIXED64), wantedFunctions, () => {
    const f = { id: 0n, name: '', systemName: '', file: '' };
    fields((t) => {
      if (t === tag(FUNCTION.id, FIXED64)) f.id = id();
      else if (t === tag(FUNCTION.name, BYTES)) f.name = str();
      else if (t === tag(FUNCTION.systemName, BYTES)) f.systemName = str();
      else if (t === tag(FUNCTION.file, BYTES)) f.file = str();
      else return false;
      return true;
    });
    out.functions.push(f);
  });
  each(ranges.mappings, tag(MAPPING.id, FIXED64), wantedMappings, () => {
    const m = { id: 0n, binary: '', buildId: '' };
    fields((t) => (t === tag(MAPPING.id, FIXED64) ? ((m.id = id()), true) : t === tag(MAPPING.binary, BYTES) ? ((m.binary = str()), true) : t === tag(MAPPING.buildId, BYTES) ? ((m.buildId = str()), true) : false));
    out.mappings.push(m);
  });
  return out;
}

function readSeries(r: WireReader, str: () => string, budget: DecodeBudget): RowsSeries {
  const labels: { name: string; value: string }[] = [];
  const type = { name: '', sampleType: '', sampleUnit: '', periodType: '', periodUnit: '' };
  let timeMs = 0;
  let durationNs = 0;
  let period = 0;
  let stackWords = new Uint32Array(0);
  const values: number[] = [];
  const outer = r.enter();
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === tag(SERIES.labels, BYTES)) {
      const o = r.enter();
      const l = { name: '', value: '' };
      while (r.pos < r.end) {
        const lt = r.varint();
        if (lt === tag(LABEL.name, BYTES)) l.name = str();
        else if (lt === tag(LABEL.value, BYTES)) l.value = str();
        else r.skipField(lt);
      }
      r.leave(o);
      labels.push(l);
    } else if (t === tag(SERIES.type, BYTES)) {
      const o = r.enter();
      const keys = ['', 'name', 'sampleType', 'sampleUnit', 'periodType', 'periodUnit'] as const;
      while (r.pos < r.end) {
        const tt = r.varint();
        const key = keys[tt >> 3];
        if ((tt & 7) === BYTES && key) type[key] = str();
        else r.skipField(tt);
      }
      r.leave(o);
    } else if (t === tag(SERIES.timeMs, VARINT)) timeMs = r.varint();
    else if (t === tag(SERIES.durationNs, VARINT)) durationNs = r.varint();
    else if (t === tag(SERIES.period, FIXED64)) {
      r.advance(8);
      period = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos - 8, 8).getFloat64(0, true);
    } else if (t === tag(SERIES.stackIds, BYTES)) {
      const end = r.lengthEnd();
      if ((end - r.pos) % 8 !== 0) r.fail('packed fixed64 field of a length not a multiple of 8');
      // Copied into aligned words: one memcpy, no bigint per row.
      const words = new Uint32Array((end - r.pos) / 4);
      new Uint8Array(words.buffer).set(r.buf.subarray(r.pos, end));
      stackWords = concatWords(stackWords, words);
      r.pos = end;
    } else if (t === tag(SERIES.values, BYTES)) r.packed(values);
    else if (t === tag(SERIES.values, VARINT)) values.push(r.varint());
    else r.skipField(t);
  }
  r.leave(outer);
  if (stackWords.length !== 2 * values.length) r.fail(`a series has ${stackWords.length / 2} stack ids for ${values.length} values`);
  checkSeriesLabels(labels, budget.limits);
  budget.beginProfile();
  for (let i = 0; i < values.length; i++) budget.countSample(i, 0);
  return { labels, type, timeMs, durationNs, period, stackWords, values };
}

function concatWords(a: Uint32Array<ArrayBuffer>, b: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  if (a.length === 0) return b;
  const out = new Uint32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function readU64(buf: Uint8Array, at: number): bigint {
  const lo = (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
  const hi = (buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}
