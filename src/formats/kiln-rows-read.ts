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
  readonly locationIds: Id[];
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

export interface RowsMessage {
  readonly mappings: RowsMapping[];
  readonly functions: RowsFunction[];
  readonly locations: RowsLocation[];
  readonly stacks: RowsStack[];
  readonly series: RowsSeries[];
}

const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const tag = (field: number, wire: number): number => field * 8 + wire;

/** Reads a RowsRequest; `budget` checks the request's decode-time limits as it goes. */
export function readRows(buf: Uint8Array, budget: DecodeBudget): RowsMessage {
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
  /** The fields of one nested message: `field(t)` reads the value of tag `t` or returns false to skip it. */
  const message = (field: (t: number) => boolean): void => {
    const outer = r.enter();
    while (r.pos < r.end) {
      const t = r.varint();
      if (!field(t)) r.skipField(t);
    }
    r.leave(outer);
  };
  let symbols = 0;
  while (r.pos < r.end) {
    const t = r.varint();
    if (t === tag(ROWS.mappings, BYTES)) {
      const m = { id: 0n, binary: '', buildId: '' };
      message((t) => (t === tag(MAPPING.id, FIXED64) ? ((m.id = id()), true) : t === tag(MAPPING.binary, BYTES) ? ((m.binary = str()), true) : t === tag(MAPPING.buildId, BYTES) ? ((m.buildId = str()), true) : false));
      out.mappings.push(m);
      symbols++;
    } else if (t === tag(ROWS.functions, BYTES)) {
      const f = { id: 0n, name: '', systemName: '', file: '' };
      message((t) => {
        if (t === tag(FUNCTION.id, FIXED64)) f.id = id();
        else if (t === tag(FUNCTION.name, BYTES)) f.name = str();
        else if (t === tag(FUNCTION.systemName, BYTES)) f.systemName = str();
        else if (t === tag(FUNCTION.file, BYTES)) f.file = str();
        else return false;
        return true;
      });
      out.functions.push(f);
      symbols++;
    } else if (t === tag(ROWS.locations, BYTES)) {
      const l: { id: Id; mappingId: Id; address: bigint; lines: { functionId: Id; line: number }[] } = { id: 0n, mappingId: 0n, address: 0n, lines: [] };
      message((t) => {
        if (t === tag(LOCATION.id, FIXED64)) l.id = id();
        else if (t === tag(LOCATION.mappingId, FIXED64)) l.mappingId = id();
        else if (t === tag(LOCATION.address, VARINT)) l.address = r.uint64();
        else if (t === tag(LOCATION.lines, BYTES)) {
          const line = { functionId: 0n, line: 0 };
          message((t) => (t === tag(LINE.functionId, FIXED64) ? ((line.functionId = id()), true) : t === tag(LINE.line, VARINT) ? ((line.line = r.varint()), true) : false));
          l.lines.push(line);
        } else return false;
        return true;
      });
      out.locations.push(l);
      symbols++;
    } else if (t === tag(ROWS.stacks, BYTES)) {
      const s = { id: 0n, locationIds: [] as Id[] };
      message((t) => {
        if (t === tag(STACK.id, FIXED64)) s.id = id();
        else if (t === tag(STACK.locationIds, BYTES)) {
          const end = r.lengthEnd();
          if ((end - r.pos) % 8 !== 0) r.fail('packed fixed64 field of a length not a multiple of 8');
          for (; r.pos < end; r.pos += 8) s.locationIds.push(readU64(buf, r.pos));
        } else return false;
        return true;
      });
      budget.stackDepth(s.locationIds.length);
      out.stacks.push(s);
      symbols++;
    } else if (t === tag(ROWS.series, BYTES)) {
      out.series.push(readSeries(r, str, budget));
    } else r.skipField(t);
    if (symbols > 0 && (symbols & 1023) === 0) budget.symbols(1024);
  }
  budget.symbols(symbols & 1023);
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
