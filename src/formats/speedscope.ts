import { InputError, parseProfileType, profileTypeId } from '../model/index.js';
import type { Profile, ProfileType } from '../model/index.js';
import type { DecodeWithType } from './options.js';
import { EmptyProfileError } from './empty-profile.js';
import { StackAccumulator } from './stack-text.js';

/**
 * speedscope's JSON file format (the one `py-spy --format speedscope`, rbspy and speedscope's own export
 * write): shared frames plus sampled profiles (stacks root first, with weights) and evented profiles
 * (balanced open/close events). Profiles of the same unit are merged into one Kiln profile.
 */

const SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

interface SpeedscopeFrame {
  name?: unknown;
}
interface SpeedscopeProfile {
  type?: unknown;
  unit?: unknown;
  startValue?: unknown;
  samples?: unknown;
  weights?: unknown;
  events?: unknown;
}

/** Time units are kept in nanoseconds so profiles of different files compare. */
const TO_NANOS: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 };

function typeForUnit(unit: string): ProfileType {
  if (unit in TO_NANOS) return parseProfileType('process_cpu:cpu:nanoseconds:cpu:nanoseconds');
  if (unit === 'bytes') return parseProfileType('memory:alloc_space:bytes:space:bytes');
  return parseProfileType('process_cpu:samples:count:cpu:nanoseconds');
}

export function parseSpeedscope(text: string, opts: DecodeWithType = {}): Profile[] {
  let file: { $schema?: unknown; shared?: { frames?: unknown }; profiles?: unknown };
  try {
    file = JSON.parse(text) as typeof file;
  } catch (e) {
    throw new InputError(`speedscope: not JSON (${(e as Error).message})`);
  }
  if (typeof file !== 'object' || file === null || file.$schema !== SCHEMA) {
    throw new InputError(`speedscope: "$schema" must be ${SCHEMA}`);
  }
  const frames = Array.isArray(file.shared?.frames) ? (file.shared.frames as SpeedscopeFrame[]) : [];
  const names = frames.map((f, i) => (typeof f?.name === 'string' ? f.name : `frame ${i}`));
  if (!Array.isArray(file.profiles)) throw new InputError('speedscope: "profiles" must be an array');

  const byType = new Map<string, { type: ProfileType; acc: StackAccumulator }>();
  (file.profiles as SpeedscopeProfile[]).forEach((prof, pi) => {
    const unit = typeof prof?.unit === 'string' ? prof.unit : 'none';
    const type = opts.type ?? typeForUnit(unit);
    const scale = opts.type ? 1 : (TO_NANOS[unit] ?? 1);
    const id = profileTypeId(type);
    let entry = byType.get(id);
    if (!entry) byType.set(id, (entry = { type, acc: new StackAccumulator() }));
    const frameName = (i: unknown): string => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= names.length) {
        throw new InputError(`speedscope: profile ${pi} refers to frame ${String(i)} (${names.length} frames)`);
      }
      return names[i]!;
    };
    const weight = (w: unknown): number => {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new InputError(`speedscope: profile ${pi} has weight ${String(w)}`);
      return Math.round(w * scale);
    };
    if (prof.type === 'sampled') addSampled(prof, entry.acc, frameName, weight, pi);
    else if (prof.type === 'evented') addEvented(prof, entry.acc, frameName, weight, pi);
    else throw new InputError(`speedscope: profile ${pi} has type ${JSON.stringify(prof?.type)} (want sampled or evented)`);
  });

  const out: Profile[] = [];
  for (const { type, acc } of byType.values()) out.push(acc.profile({ ...opts, type }, 'speedscope profile'));
  if (out.length === 0) throw new EmptyProfileError('speedscope file');
  return out;
}

function addSampled(
  prof: SpeedscopeProfile,
  acc: StackAccumulator,
  frameName: (i: unknown) => string,
  weight: (w: unknown) => number,
  pi: number,
): void {
  const samples = prof.samples;
  const weights = prof.weights;
  if (!Array.isArray(samples) || !Array.isArray(weights) || samples.length !== weights.length) {
    throw new InputError(`speedscope: sampled profile ${pi} needs "samples" and "weights" of equal length`);
  }
  samples.forEach((stack: unknown, i) => {
    if (!Array.isArray(stack)) throw new InputError(`speedscope: profile ${pi} sample ${i} is not a list of frames`);
    acc.add(stack.map(frameName), weight(weights[i]));
  });
}

/** Time between consecutive events is charged to the stack open during it (what speedscope draws). */
function addEvented(
  prof: SpeedscopeProfile,
  acc: StackAccumulator,
  frameName: (i: unknown) => string,
  weight: (w: unknown) => number,
  pi: number,
): void {
  if (!Array.isArray(prof.events)) throw new InputError(`speedscope: evented profile ${pi} needs "events"`);
  const open: number[] = [];
  let last = typeof prof.startValue === 'number' ? prof.startValue : 0;
  for (const ev of prof.events as { type?: unknown; at?: unknown; frame?: unknown }[]) {
    const at = ev?.at;
    if (typeof at !== 'number' || at < last) throw new InputError(`speedscope: profile ${pi} has events out of order at ${String(at)}`);
    frameName(ev.frame);
    if (open.length > 0 && at > last) acc.add(open.map(frameName), weight(at - last));
    if (ev.type === 'O') open.push(ev.frame as number);
    else if (ev.type === 'C') {
      if (open[open.length - 1] !== ev.frame) throw new InputError(`speedscope: profile ${pi} closes frame ${String(ev.frame)} that is not open`);
      open.pop();
    } else throw new InputError(`speedscope: profile ${pi} has event type ${JSON.stringify(ev.type)} (want O or C)`);
    last = at;
  }
}
