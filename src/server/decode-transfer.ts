import { InputError } from '../model/errors.js';
import type { Labels } from '../model/labels.js';
import type { Profile } from '../model/profile.js';
import type { ProfileType } from '../model/profile-type.js';
import type { FunctionInfo, Location, Mapping, Stack, SymbolDictionary } from '../model/symbols.js';
import type { DecodeTask, Decoded } from './decode-tasks.js';
import { runDecodeTask } from './decode-tasks.js';

/**
 * What a decode worker sends back, shaped for the copy between threads: per-sample data and stacks
 * are typed arrays (one memcpy each), not an array object per stack or a number per element to
 * serialize; symbols (a few thousand per request) go as they are. Errors a sender caused travel as
 * their status and message, since a thrown InputError would arrive as a plain Error (a 500).
 */
export type DecodeReply = { readonly ok: true; readonly decoded: PackedDecoded } | { readonly ok: false; readonly status: InputError['status']; readonly message: string };

interface PackedDecoded {
  readonly dicts: PackedDictionary[];
  readonly profiles: PackedProfile[];
  readonly rejected: string[];
}

interface PackedDictionary {
  readonly mappings: Mapping[];
  readonly functions: FunctionInfo[];
  readonly locations: Location[];
  /** Stack i is `stackLocations[stackStarts[i] .. stackStarts[i + 1])`. */
  readonly stackStarts: Int32Array;
  readonly stackLocations: Int32Array;
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
}

/** Runs a task and packs its outcome; what the worker thread does with each task it is given. */
export async function decodeAndPack(task: DecodeTask): Promise<DecodeReply> {
  try {
    return { ok: true, decoded: pack(await runDecodeTask(task)) };
  } catch (e) {
    if (e instanceof InputError) return { ok: false, status: e.status, message: e.message };
    throw e;
  }
}

/** The main thread's side: the decoded profiles, or the sender's error rethrown as the same InputError. */
export function unpackReply(reply: DecodeReply): Decoded {
  if (!reply.ok) throw new InputError(reply.message, reply.status);
  const dicts = reply.decoded.dicts.map(unpackDictionary);
  const profiles = reply.decoded.profiles.map(
    (p): Profile => ({
      type: p.type,
      labels: p.labels,
      timeMs: p.timeMs,
      durationNs: p.durationNs,
      period: p.period,
      dict: dicts[p.dict]!,
      stacks: Array.from(p.stacks),
      values: Array.from(p.values),
    }),
  );
  return { profiles, rejected: reply.decoded.rejected };
}

function pack(decoded: Decoded): PackedDecoded {
  const dictIndex = new Map<SymbolDictionary, number>();
  const dicts: PackedDictionary[] = [];
  const profiles = decoded.profiles.map((p): PackedProfile => {
    let dict = dictIndex.get(p.dict);
    if (dict === undefined) {
      dict = dicts.push(packDictionary(p.dict)) - 1;
      dictIndex.set(p.dict, dict);
    }
    return {
      type: p.type,
      labels: p.labels,
      timeMs: p.timeMs,
      durationNs: p.durationNs,
      period: p.period,
      dict,
      stacks: Int32Array.from(p.stacks),
      values: Float64Array.from(p.values),
    };
  });
  return { dicts, profiles, rejected: decoded.rejected };
}

function packDictionary(d: SymbolDictionary): PackedDictionary {
  const stackStarts = new Int32Array(d.stacks.length + 1);
  let total = 0;
  d.stacks.forEach((s, i) => {
    stackStarts[i] = total;
    total += s.length;
  });
  stackStarts[d.stacks.length] = total;
  const stackLocations = new Int32Array(total);
  d.stacks.forEach((s, i) => stackLocations.set(s, stackStarts[i]));
  return { mappings: d.mappings, functions: d.functions, locations: d.locations, stackStarts, stackLocations };
}

function unpackDictionary(d: PackedDictionary): SymbolDictionary {
  const stacks: Stack[] = new Array(d.stackStarts.length - 1);
  for (let i = 0; i < stacks.length; i++) stacks[i] = Array.from(d.stackLocations.subarray(d.stackStarts[i], d.stackStarts[i + 1]));
  return { mappings: d.mappings, functions: d.functions, locations: d.locations, stacks };
}
