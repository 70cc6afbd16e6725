import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import type { Profile, SpanSamples } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import type { FunctionInfo, Line, Location, Mapping, Stack, SymbolDictionary } from '../model/symbols.js';
import type { PrecomputedIds } from '../store/content-ids.js';
import { ContentIds, attachPrecomputedIds, idWords, precomputeIds } from '../store/content-ids.js';
import type { ProfileSamples } from '../store/profile-rows.js';
import { attachPrecomputedSamples, profileSamples } from '../store/profile-rows.js';
import type { DecodeTask, Decoded } from './decode-tasks.js';
import { EventLoopSlices } from '../store/event-loop-slices.js';
import { STORED_STACK } from '../store/stored-stacks.js';
import { runDecodeTask } from './decode-tasks.js';

/**
 * What a decode worker sends back, shaped for the copy between threads: everything is typed arrays
 * (one memcpy each) plus one table of distinct strings. Copying the decoded object graph as it is
 * (thousands of small objects per request) cost more on the main thread than decoding it there: in a
 * CPU profile of bench/server-ingest.ts, V8's deserializer took ~4 s of the main thread for 400 agent
 * pushes. Errors a sender caused travel as their status and message, since a thrown InputError would
 * arrive as a plain Error (a 500).
 */
export type DecodeReply = { readonly ok: true; readonly decoded: PackedDecoded } | { readonly ok: false; readonly status: InputError['status']; readonly message: string };

interface PackedDecoded {
  readonly dicts: PackedDictionary[];
  readonly profiles: PackedProfile[];
  readonly rejected: string[];
  readonly missingStacks?: string[];
}

/** A SymbolDictionary as columns; every string is an index into `strings`. */
interface PackedDictionary {
  readonly strings: string[];
  /** (binary, buildId) per mapping. */
  readonly mappings: Int32Array;
  /** (name, systemName, file) per function. */
  readonly functions: Int32Array;
  readonly locationMapping: Int32Array;
  readonly locationAddress: BigUint64Array;
  /** Location i's lines are `lineFunction/lineNumber[lineStarts[i] .. lineStarts[i + 1])`. */
  readonly lineStarts: Int32Array;
  readonly lineFunction: Int32Array;
  readonly lineNumber: Float64Array;
  /** Stack i is `stackLocations[stackStarts[i] .. stackStarts[i + 1])`. */
  readonly stackStarts: Int32Array;
  readonly stackLocations: Int32Array;
  /** 1 where stack i is STORED_STACK (its frames left out as stored), so it stays that one constant. */
  readonly storedStacks: Uint8Array;
  /** The content ids of its mappings, functions, locations and stacks, hashed on the worker (absent if it could not). */
  readonly ids?: PrecomputedIds;
}

interface PackedProfile {
  readonly type: ProfileType;
  readonly labels: Labels;
  readonly timeMs: number;
  readonly durationNs: number;
  readonly period: number;
  /** Index into `dicts`: profiles that shared a dictionary still share it once unpacked. */
  readonly dict: number;
  readonly stacks: Int32Array;
  readonly values: Float64Array;
  /** Span samples as decoded (rare and small; bigints clone across threads as they are). */
  readonly spans?: SpanSamples;
  /** Its rows by content stack id (summed, sorted), made on the worker with its dictionary's ids. */
  readonly rows?: ProfileSamples;
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
    return { ok: true, decoded: pack(await runDecodeTask(task), (workerIds ??= new ContentIds(false))) };
  } catch (e) {
    if (e instanceof InputError) return { ok: false, status: e.status, message: e.message };
    throw e;
  }
}

/**
 * What the decode thread does with each task: decodeAndPack, and the buffers under the reply, which the
 * thread's message moves to the main thread (their memory changes hands) instead of copying.
 */
export async function decodeInWorker(task: DecodeTask): Promise<{ readonly reply: DecodeReply; readonly transfer: ArrayBuffer[] }> {
  const reply = await decodeAndPack(task);
  return { reply, transfer: reply.ok ? transferList(reply.decoded) : [] };
}

/** Every buffer under the packed reply, once each (a buffer listed twice fails the transfer). */
function transferList(decoded: PackedDecoded): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView) => {
    if (a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  };
  for (const d of decoded.dicts) {
    for (const a of [d.mappings, d.functions, d.locationMapping, d.locationAddress, d.lineStarts, d.lineFunction, d.lineNumber, d.stackStarts, d.stackLocations, d.storedStacks]) add(a);
    if (d.ids) for (const a of [d.ids.mappings, d.ids.functions, d.ids.locations, d.ids.stacks]) add(a);
  }
  for (const p of decoded.profiles) {
    add(p.stacks);
    add(p.values);
    if (p.rows) for (const a of [p.rows.stackIds, p.rows.scaled]) add(a);
  }
  return [...buffers];
}

/** The main thread's side: the decoded profiles, or the sender's error rethrown as the same InputError. */
export async function unpackReply(reply: DecodeReply): Promise<Decoded> {
  if (!reply.ok) throw new InputError(reply.message, reply.status);
  // A reply of 100 000 stacks is rebuilt in slices, with the event loop's turns between them.
  const slices = new EventLoopSlices();
  const dicts: SymbolDictionary[] = [];
  for (const packed of reply.decoded.dicts) {
    const dict = await unpackDictionary(packed, slices);
    if (packed.ids) attachPrecomputedIds(dict, packed.ids);
    dicts.push(dict);
  }
  const profiles: Profile[] = [];
  for (const p of reply.decoded.profiles) {
    const turn = slices.beforeStep(p.stacks.length);
    if (turn) await turn;
    const profile: Profile = {
      type: p.type,
      labels: p.labels,
      timeMs: p.timeMs,
      durationNs: p.durationNs,
      period: p.period,
      dict: dicts[p.dict]!,
      stacks: plainArray(p.stacks),
      values: plainArray(p.values),
      ...(p.spans ? { spans: p.spans } : {}),
    };
    const ids = reply.decoded.dicts[p.dict]!.ids;
    if (p.rows && ids) attachPrecomputedSamples(profile, idWords(ids.stacks), p.rows);
    profiles.push(profile);
  }
  const { rejected, missingStacks } = reply.decoded;
  return { profiles, rejected, ...(missingStacks ? { missingStacks } : {}) };
}

function pack(decoded: Decoded, contentIds: ContentIds): PackedDecoded {
  const dictIndex = new Map<SymbolDictionary, number>();
  const dicts: PackedDictionary[] = [];
  const profiles = decoded.profiles.map((p): PackedProfile => {
    let dict = dictIndex.get(p.dict);
    if (dict === undefined) {
      dict = dicts.push(packDictionary(p.dict, contentIds)) - 1;
      dictIndex.set(p.dict, dict);
    }
    const ids = dicts[dict]!.ids;
    return {
      type: p.type,
      labels: p.labels,
      timeMs: p.timeMs,
      durationNs: p.durationNs,
      period: p.period,
      dict,
      stacks: Int32Array.from(p.stacks),
      values: Float64Array.from(p.values),
      ...(p.spans ? { spans: p.spans } : {}),
      ...(ids ? rowsOf(p, ids) : {}),
    };
  });
  return { dicts, profiles, rejected: decoded.rejected, ...(decoded.missingStacks ? { missingStacks: decoded.missingStacks } : {}) };
}

/** The profile's rows for the write path, or nothing if they cannot be made (it then validates and refuses it). */
function rowsOf(p: Profile, ids: PrecomputedIds): { rows?: ProfileSamples } {
  try {
    return { rows: profileSamples(p, idWords(ids.stacks)) };
  } catch {
    return {};
  }
}

/** Offsets of variable-length runs (lines of a location, frames of a stack) and the runs end to end. */
function offsets(runs: readonly { readonly length: number }[]): { starts: Int32Array; total: number } {
  const starts = new Int32Array(runs.length + 1);
  let total = 0;
  runs.forEach((r, i) => {
    starts[i] = total;
    total += r.length;
  });
  starts[runs.length] = total;
  return { starts, total };
}

function packDictionary(d: SymbolDictionary, contentIds: ContentIds): PackedDictionary {
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
  d.stacks.forEach((s, i) => {
    if (s === STORED_STACK) storedStacks[i] = 1;
    else stackLocations.set(s, stacks.starts[i]);
  });
  let ids: PrecomputedIds | undefined;
  try {
    ids = precomputeIds(contentIds, d);
  } catch {
    // A dictionary the decoder let through malformed: the write path validates it on the main thread
    // and answers the sender there, with its own ids if it is valid after all.
    ids = undefined;
  }
  return { strings, mappings, functions, locationMapping, locationAddress, lineStarts: lines.starts, lineFunction, lineNumber, stackStarts: stacks.starts, stackLocations, storedStacks, ...(ids ? { ids } : {}) };
}

async function unpackDictionary(d: PackedDictionary, slices: EventLoopSlices): Promise<SymbolDictionary> {
  const s = d.strings;
  const mappings: Mapping[] = new Array(d.mappings.length / 2);
  for (let i = 0; i < mappings.length; i++) mappings[i] = { binary: s[d.mappings[2 * i]!]!, buildId: s[d.mappings[2 * i + 1]!]! };
  const functions: FunctionInfo[] = new Array(d.functions.length / 3);
  for (let i = 0; i < functions.length; i++) functions[i] = { name: s[d.functions[3 * i]!]!, systemName: s[d.functions[3 * i + 1]!]!, file: s[d.functions[3 * i + 2]!]! };
  const locations: Location[] = new Array(d.locationMapping.length);
  for (let i = 0; i < locations.length; i++) {
    const from = d.lineStarts[i]!;
    const lines: Line[] = [];
    for (let j = from; j < d.lineStarts[i + 1]!; j++) lines.push({ function: d.lineFunction[j]!, line: smallInteger(d.lineNumber[j]!) });
    locations[i] = { mapping: d.locationMapping[i]!, address: d.locationAddress[i]!, lines };
  }
  return { mappings, functions, locations, stacks: await stacksOf(d, slices) };
}

/** Stack i as a plain array of its locations (what the model's stacks are), or STORED_STACK. */
async function stacksOf(d: PackedDictionary, slices: EventLoopSlices): Promise<Stack[]> {
  const starts = d.stackStarts;
  const out: Stack[] = new Array(starts.length - 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = d.storedStacks[i] === 1 ? STORED_STACK : plainArray(d.stackLocations, starts[i]!, starts[i + 1]!);
    const turn = slices.pause();
    if (turn) await turn;
  }
  return out;
}

function plainArray(values: ArrayLike<number>, from = 0, to = values.length): number[] {
  // Filled by push, not preallocated: a packed array, as the decoders' own are.
  const out: number[] = [];
  for (let k = from; k < to; k++) out.push(smallInteger(values[k]!));
  return out;
}

/**
 * A number read from a Float64Array is a double even when it is a small integer; stored as such, the
 * objects and arrays built from it get other shapes than the decoders' own (small-integer fields), and
 * the write path's hot loops see both kinds. Small integers are turned back into small integers.
 */
function smallInteger(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}
