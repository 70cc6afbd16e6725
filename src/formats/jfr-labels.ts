import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { InputError } from '../model/errors.js';

/**
 * The Pyroscope Java agent's `labels` part beside a JFR: the labels of each profiling context
 * (`Pyroscope.LabelsWrapper.run(new LabelsSet("route", "/cart"), …)`) as a protobuf
 *   LabelsSnapshot { map<int64, Context> contexts = 1; map<int64, string> strings = 2; }
 *   Context { map<int64, int64> labels = 1; }   // label name id → value id, both in `strings`
 * Events recorded inside a context carry its id (`contextId`), which is how samples get the labels.
 */
export interface JfrLabelsSnapshot {
  /** context id → [name, value] pairs */
  readonly contexts: ReadonlyMap<number, readonly (readonly [string, string])[]>;
}

export function decodeJfrLabels(bytes: Uint8Array): JfrLabelsSnapshot {
  const rawContexts = new Map<number, [number, number][]>();
  const strings = new Map<number, string>();
  try {
    const r = new BinaryReader(bytes);
    while (r.pos < r.len) {
      const [field, wire] = r.tag();
      if (wire !== WireType.LengthDelimited || (field !== 1 && field !== 2)) {
        r.skip(wire, field);
        continue;
      }
      const entry = new BinaryReader(r.bytes());
      let key = 0;
      let context: [number, number][] = [];
      let text = '';
      while (entry.pos < entry.len) {
        const [f, w] = entry.tag();
        if (f === 1 && w === WireType.Varint) key = Number(entry.int64());
        else if (f === 2 && field === 2 && w === WireType.LengthDelimited) text = entry.string();
        else if (f === 2 && field === 1 && w === WireType.LengthDelimited) context = readContext(entry.bytes());
        else entry.skip(w, f);
      }
      if (field === 1) rawContexts.set(key, context);
      else strings.set(key, text);
    }
  } catch (e) {
    throw new InputError(`the "labels" part is not a Pyroscope JFR LabelsSnapshot protobuf: ${(e as Error).message}`);
  }
  const contexts = new Map<number, [string, string][]>();
  for (const [id, pairs] of rawContexts) {
    const resolved: [string, string][] = [];
    for (const [k, v] of pairs) {
      const name = strings.get(k);
      const value = strings.get(v);
      if (name === undefined || value === undefined) {
        throw new InputError(`the "labels" part: context ${id} refers to string ${name === undefined ? k : v}, which it does not hold`);
      }
      resolved.push([name, value]);
    }
    contexts.set(id, resolved);
  }
  return { contexts };
}

function readContext(bytes: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 1 || wire !== WireType.LengthDelimited) {
      r.skip(wire, field);
      continue;
    }
    const entry = new BinaryReader(r.bytes());
    let k = 0;
    let v = 0;
    while (entry.pos < entry.len) {
      const [f, w] = entry.tag();
      if (f === 1 && w === WireType.Varint) k = Number(entry.int64());
      else if (f === 2 && w === WireType.Varint) v = Number(entry.int64());
      else entry.skip(w, f);
    }
    out.push([k, v]);
  }
  return out;
}
