import { InputError } from '../model/errors.js';
import type { Label } from '../model/labels.js';
import type { Profile, SpanSamples } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import type { FunctionInfo, Line, Location, Mapping, Stack, SymbolDictionary } from '../model/symbols.js';
import type { PrecomputedIds } from '../store/content-ids.js';
import { ContentIds, attachPrecomputedIds, idWords, precomputeIds } from '../store/content-ids.js';
import type { ProfileSamples, SpanRows } from '../store/profile-rows.js';
import { attachPrecomputedSamples, profileSamples } from '../store/profile-rows.js';
import type { DecodeTask, Decoded } from './decode-tasks.js';
import { ReplyReader, ReplyWriter, smallInteger } from './decode-reply-buffer.js';
import { EventLoopSlices } from '../store/event-loop-slices.js';
import { STORED_STACK } from '../store/stored-stacks.js';
import { runDecodeTask } from './decode-tasks.js';

/**
 * What a decode worker sends back, shaped for the copy between threads: one buffer holding every
 * number (a header of counts and column places, then the columns), a list of the strings in the order
 * they were written, and each dictionary's content stack ids in a buffer of their own (the write path
 * matches a profile's precomputed rows to its dictionary by that buffer). Copying the decoded object
 * graph as it is cost more on the main thread than decoding it there (V8's deserializer took ~4 s of
 * the main thread for 400 agent pushes); a reply of objects holding ~20 typed arrays still spent most
 * of its deserializing on the objects' property names, which one buffer does not have. Errors a
 * sender caused travel as their status and message, since a thrown InputError would arrive as a plain
 * Error (a 500).
 */
export type DecodeReply = { readonly ok: true; readonly decoded: PackedDecoded } | { readonly ok: false; readonly status: InputError['status']; readonly message: string };

interface PackedDecoded {
  /** Header and columns (see ReplyWriter). */
  readonly buffer: ArrayBuffer;
  readonly strings: string[];
  /** The content stack ids of each dictionary that has ids, in dictionary order. */
  readonly stackIds: BigUint64Array[];
  /** Span samples and span rows of the profiles that have them (rare and small; bigints clone across threads as they are). */
  readonly spans?: ProfileSpans[];
}

interface ProfileSpans {
  readonly profile: number;
  readonly spans?: SpanSamples;
  readonly rows?: SpanRows;
}

/**
 * The worker's memo of ids (content-ids.ts): agents push mostly the same functions and stacks again and
 * again, so each worker thread keeps its own and hashes only what it has not seen. Created on first use:
 * the main thread imports this module for `unpackReply` and never hashes here.
 */
let workerIds: ContentIds | undefined;

/** Runs a task and packs its outcome, content ids included. */
export async function decodeAndPack(task: DecodeTask): Promise<DecodeReply> {
  try {
    return packReply(await runDecodeTask(task));
  } catch (e) {
    if (e instanceof InputError) return { ok: false, status: e.status, message: e.message };
    throw e;
  }
}

/** Decoded profiles packed for the main thread, their content ids (hashed here) and rows included. */
export function packReply(decoded: Decoded): DecodeReply {
  return { ok: true, decoded: pack(decoded, (workerIds ??= new ContentIds(false))) };
}

/**
 * What the decode thread does with each task: decodeAndPack, and the buffers under the reply, which the
 * thread's message moves to the main thread (their memory changes hands) instead of copying.
 */
export async function decodeInWorker(task: DecodeTask): Promise<{ readonly reply: DecodeReply; readonly transfer: ArrayBuffer[] }> {
  const reply = await decodeAndPack(task);
  return { reply, transfer: replyBuffers(reply) };
}

/** The reply's buffers, once each (a buffer listed twice fails the transfer). */
export function replyBuffers(reply: DecodeReply): ArrayBuffer[] {
  if (!reply.ok) return [];
  const buffers = new Set<ArrayBuffer>([reply.decoded.buffer]);
  for (const ids of reply.decoded.stackIds) if (ids.buffer instanceof ArrayBuffer) buffers.add(ids.buffer);
  return [...buffers];
}

/** The main thread's side: the decoded profiles, or the sender's error rethrown as the same InputError. */
export async function unpackReply(reply: DecodeReply): Promise<Decoded> {
  if (!reply.ok) throw new InputError(reply.message, reply.status);
  const { buffer, strings, stackIds, spans } = reply.decoded;
  const r = new ReplyReader(buffer, strings);
  // A reply of 100 000 stacks is rebuilt in slices, with the event loop's turns between them.
  const slices = new EventLoopSlices();
  const dicts: SymbolDictionary[] = [];
  const dictStackIds: (BigUint64Array | undefined)[] = [];
  let nextStackIds = 0;
  const nDicts = r.num();
  for (let i = 0; i < nDicts; i++) {
    const dict = await unpackDictionary(r, slices);
    const ids = r.num() === 1 ? { mappings: r.u64(), functions: r.u64(), locations: r.u64(), stacks: stackIds[nextStackIds++]! } : undefined;
    if (ids) attachPrecomputedIds(dict, ids);
    dicts.push(dict);
    dictStackIds.push(ids?.stacks);
  }
  const spansOf = new Map((spans ?? []).map((s) => [s.profile, s]));
  const profiles: Profile[] = [];
  const nProfiles = r.num();
  for (let n = 0; n < nProfiles; n++) {
    const type: ProfileType = { name: r.str(), sampleType: r.str(), sampleUnit: r.str(), periodType: r.str(), periodUnit: r.str() };
    const labels: Label[] = new Array(r.num());
    for (let i = 0; i < labels.length; i++) labels[i] = { name: r.str(), value: r.str() };
    const timeMs = r.num();
    const durationNs = r.num();
    const period = r.num();
    const dict = r.num();
    const stacks = r.i32();
    const values = r.f64();
    const turn = slices.beforeStep(stacks.length);
    if (turn) await turn;
    const extra = spansOf.get(n);
    const profile: Profile = {
      type,
      labels,
      timeMs,
      durationNs,
      period,
      dict: dicts[dict]!,
      stacks: plainInts(stacks),
      values: plainNumbers(values),
      ...(extra?.spans ? { spans: extra.spans } : {}),
    };
    if (r.num() === 1) {
      const rowStackIds = r.u64();
      const scaled = r.f64();
      const scale = r.num();
      const total = r.num();
      const ids = dictStackIds[dict];
      const rows: ProfileSamples = { stackIds: rowStackIds, scaled, scale, total, ...(extra?.rows ? { spans: extra.rows } : {}) };
      if (ids) attachPrecomputedSamples(profile, idWords(ids), rows);
    }
    profiles.push(profile);
  }
  const rejected = r.strs();
  return r.num() === 1 ? { profiles, rejected, missingStacks: r.strs() } : { profiles, rejected };
}

function pack(decoded: Decoded, contentIds: ContentIds): PackedDecoded {
  const w = new ReplyWriter();
  const dictIndex = new Map<SymbolDictionary, number>();
  const dicts: SymbolDictionary[] = [];
  for (const p of decoded.profiles) if (!dictIndex.has(p.dict)) dictIndex.set(p.dict, dicts.push(p.dict) - 1);
  w.num(dicts.length);
  const idsOfDict: (PrecomputedIds | undefined)[] = [];
  const stackIds: BigUint64Array[] = [];
  for (const d of dicts) {
    packDictionary(d, w);
    const ids = idsOf(d, contentIds);
    idsOfDict.push(ids);
    w.num(ids ? 1 : 0);
    if (!ids) continue;
    w.u64(ids.mappings);
    w.u64(ids.functions);
    w.u64(ids.locations);
    stackIds.push(ownBuffer(ids.stacks));
  }
  const spans: ProfileSpans[] = [];
  w.num(decoded.profiles.length);
  decoded.profiles.forEach((p, n) => {
    const { type, labels } = p;
    for (const s of [type.name, type.sampleType, type.sampleUnit, type.periodType, type.periodUnit]) w.str(s);
    w.num(labels.length);
    for (const l of labels) {
      w.str(l.name);
      w.str(l.value);
    }
    const dict = dictIndex.get(p.dict)!;
    w.num(p.timeMs);
    w.num(p.durationNs);
    w.num(p.period);
    w.num(dict);
    w.i32(p.stacks);
    w.f64(p.values);
    const ids = idsOfDict[dict];
    const rows = ids ? rowsOf(p, ids) : undefined;
    w.num(rows ? 1 : 0);
    if (rows) {
      w.u64(rows.stackIds);
      w.f64(rows.scaled);
      w.num(rows.scale);
      w.num(rows.total);
    }
    if (p.spans || rows?.spans) spans.push({ profile: n, ...(p.spans ? { spans: p.spans } : {}), ...(rows?.spans ? { rows: rows.spans } : {}) });
  });
  w.strs(decoded.rejected);
  w.num(decoded.missingStacks ? 1 : 0);
  if (decoded.missingStacks) w.strs(decoded.missingStacks);
  return { buffer: w.finish(), strings: w.strings, stackIds, ...(spans.length > 0 ? { spans } : {}) };
}

/** The dictionary's content ids, or nothing if it is malformed. */
function idsOf(d: SymbolDictionary, contentIds: ContentIds): PrecomputedIds | undefined {
  try {
    return precomputeIds(contentIds, d);
  } catch {
    // A dictionary the decoder let through malformed: the write path validates it on the main thread
    // and answers the sender there, with its own ids if it is valid after all.
    return undefined;
  }
}

/** `ids` alone in its buffer, as moving it to the main thread needs (copied if it shares one). */
function ownBuffer(ids: BigUint64Array): BigUint64Array {
  return ids.byteOffset === 0 && ids.buffer instanceof ArrayBuffer && ids.byteLength === ids.buffer.byteLength ? ids : ids.slice();
}

/** The profile's rows for the write path, or nothing if they cannot be made (it then validates and refuses it). */
function rowsOf(p: Profile, ids: PrecomputedIds): ProfileSamples | undefined {
  try {
    return profileSamples(p, idWords(ids.stacks));
  } catch {
    return undefined;
  }
}

/** Offsets of variable-length runs (lines of a location, frames of a stack) and the runs end to end. */
function offsets(runs: readonly { readonly length: number }[]): { starts: Int32Array; total: number } {
  const starts = new Int32Array(runs.length + 1);
  let total = 0;
  for (let i = 0; i < runs.length; i++) {
    starts[i] = total;
    total += runs[i]!.length;
  }
  starts[runs.length] = total;
  return { starts, total };
}

/**
 * A SymbolDictionary as columns: (binary, buildId) per mapping and (name, systemName, file) per function
 * as indices into its table of distinct strings; each location's mapping, address and lines (location i's
 * lines are `lineFunction/lineNumber[lineStarts[i] .. lineStarts[i + 1])`); each stack's locations
 * (`stackLocations[stackStarts[i] .. stackStarts[i + 1])`), and 1 in `storedStacks` where stack i is
 * STORED_STACK (its frames left out as stored), so it stays that one constant.
 */
function packDictionary(d: SymbolDictionary, w: ReplyWriter): void {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const str = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) index.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const mappings = new Int32Array(d.mappings.length * 2);
  d.mappings.forEach((m, i) => {
    mappings[2 * i] = str(m.binary);
    mappings[2 * i + 1] = str(m.buildId);
  });
  const functions = new Int32Array(d.functions.length * 3);
  d.functions.forEach((f, i) => {
    functions[3 * i] = str(f.name);
    functions[3 * i + 1] = str(f.systemName);
    functions[3 * i + 2] = str(f.file);
  });
  const n = d.locations.length;
  const locationMapping = new Int32Array(n);
  const locationAddress = new BigUint64Array(n);
  const lines = offsets(d.locations.map((l) => l.lines));
  const lineFunction = new Int32Array(lines.total);
  const lineNumber = new Float64Array(lines.total);
  d.locations.forEach((l, i) => {
    locationMapping[i] = l.mapping;
    locationAddress[i] = BigInt.asUintN(64, l.address);
    let at = lines.starts[i]!;
    for (const line of l.lines) {
      lineFunction[at] = line.function;
      lineNumber[at++] = line.line;
    }
  });
  const stacks = offsets(d.stacks);
  const stackLocations = new Int32Array(stacks.total);
  const storedStacks = new Uint8Array(d.stacks.length);
  for (let i = 0; i < d.stacks.length; i++) {
    const s = d.stacks[i]!;
    if (s === STORED_STACK) storedStacks[i] = 1;
    else stackLocations.set(s, stacks.starts[i]);
  }
  w.strs(strings);
  w.i32(mappings);
  w.i32(functions);
  w.i32(locationMapping);
  w.u64(locationAddress);
  w.i32(lines.starts);
  w.i32(lineFunction);
  w.f64(lineNumber);
  w.i32(stacks.starts);
  w.i32(stackLocations);
  w.u8(storedStacks);
}

async function unpackDictionary(r: ReplyReader, slices: EventLoopSlices): Promise<SymbolDictionary> {
  const s = r.strs();
  const packedMappings = r.i32();
  const packedFunctions = r.i32();
  const locationMapping = r.i32();
  const locationAddress = r.u64();
  const lineStarts = r.i32();
  const lineFunction = r.i32();
  const lineNumber = r.f64();
  const stackStarts = r.i32();
  const stackLocations = r.i32();
  const storedStacks = r.u8();
  const mappings: Mapping[] = new Array(packedMappings.length / 2);
  for (let i = 0; i < mappings.length; i++) mappings[i] = { binary: s[packedMappings[2 * i]!]!, buildId: s[packedMappings[2 * i + 1]!]! };
  const functions: FunctionInfo[] = new Array(packedFunctions.length / 3);
  for (let i = 0; i < functions.length; i++) functions[i] = { name: s[packedFunctions[3 * i]!]!, systemName: s[packedFunctions[3 * i + 1]!]!, file: s[packedFunctions[3 * i + 2]!]! };
  const locations: Location[] = new Array(locationMapping.length);
  for (let i = 0; i < locations.length; i++) {
    const lines: Line[] = [];
    for (let j = lineStarts[i]!; j < lineStarts[i + 1]!; j++) lines.push({ function: lineFunction[j]!, line: smallInteger(lineNumber[j]!) });
    locations[i] = { mapping: locationMapping[i]!, address: locationAddress[i]!, lines };
  }
  // Stack i as a plain array of its locations (what the model's stacks are), or STORED_STACK.
  const stacks: Stack[] = new Array(stackStarts.length - 1);
  for (let i = 0; i < stacks.length; i++) {
    stacks[i] = storedStacks[i] === 1 ? STORED_STACK : plainInts(stackLocations, stackStarts[i]!, stackStarts[i + 1]!);
    const turn = slices.pause();
    if (turn) await turn;
  }
  return { mappings, functions, locations, stacks };
}

/**
 * An Int32Array's elements as a plain array, filled by push, not preallocated: a packed array, as the
 * decoders' own are. Its elements are small integers already (an int32 is one on 64-bit V8).
 */
function plainInts(values: Int32Array, from = 0, to = values.length): number[] {
  const out: number[] = [];
  for (let k = from; k < to; k++) out.push(values[k]!);
  return out;
}

/**
 * A Float64Array's elements as a packed plain array of the kind the decoders' own have: small integers when
 * every element is one, else doubles (one element that is not makes the whole array doubles either way).
 * Deciding once, not per element (smallInteger), lets V8 inline each push of one kind: ≈ 2× faster for
 * a reply's 800 values, which are nanoseconds, mostly past 2^31.
 */
function plainNumbers(values: Float64Array): number[] {
  let integers = true;
  for (let k = 0; k < values.length && integers; k++) integers = values[k] === (values[k]! | 0);
  if (integers) {
    const out: number[] = [];
    for (let k = 0; k < values.length; k++) out.push(values[k]! | 0);
    return out;
  }
  // Made a double array before the first push (an empty literal is a small-integer one).
  const out = [0.5];
  out.length = 0;
  for (let k = 0; k < values.length; k++) out.push(values[k]!);
  return out;
}
