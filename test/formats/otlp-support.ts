import { readFileSync } from 'node:fs';
import path from 'node:path';
import { frameNames, getLabel } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { requireTestdata } from '../support/testdata.js';

/** The OpenTelemetry eBPF profiler capture of the conformance corpus (binary and its JSON sibling). */
export function captureFiles(): { bin: Uint8Array; json: string } {
  const dir = requireTestdata('otlp');
  return {
    bin: new Uint8Array(readFileSync(path.join(dir, 'otel-ebpf-profile.pb.bin'))),
    json: readFileSync(path.join(dir, 'otel-ebpf-profile.pb.json'), 'utf8'),
  };
}

/** `root;…;leaf` → summed value over profiles, the way a flame graph adds them up. */
export function foldedOf(profiles: readonly Profile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of profiles) {
    p.stacks.forEach((s, i) => {
      const names = p.dict.stacks[s]!.flatMap((li) => frameNames(p.dict, li)).reverse().join(';');
      out.set(names, (out.get(names) ?? 0) + p.values[i]!);
    });
  }
  return out;
}

/** Every binary name the profiles' stacks reach. */
export function binariesOf(profiles: readonly Profile[]): Set<string> {
  const out = new Set<string>();
  for (const p of profiles) for (const s of p.stacks) for (const li of p.dict.stacks[s]!) {
    const m = p.dict.locations[li]!.mapping;
    if (m >= 0) out.add(p.dict.mappings[m]!.binary);
  }
  return out;
}

export function labelValues(profiles: readonly Profile[], name: string): Set<string> {
  const out = new Set<string>();
  for (const p of profiles) {
    const v = getLabel(p.labels, name);
    if (v !== undefined) out.add(v);
  }
  return out;
}

export function totalByType(profiles: readonly Profile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of profiles) {
    const id = `${p.type.name}:${p.type.sampleType}:${p.type.sampleUnit}:${p.type.periodType}:${p.type.periodUnit}`;
    out.set(id, (out.get(id) ?? 0) + p.values.reduce((a, b) => a + b, 0));
  }
  return out;
}

/**
 * Totals per sample type computed straight from the capture's JSON with JSON.parse — no Kiln code —
 * following the OTLP rules: values summed, or one event per time stamp; CPU counts × period.
 */
export function independentTotals(json: string): { cpuNs: number; offCpuNs: number; pids: Set<string> } {
  type Obj = Record<string, any>;
  const req = JSON.parse(json) as Obj;
  const strings = req.dictionary.stringTable as string[];
  let cpuNs = 0;
  let offCpuNs = 0;
  const pids = new Set<string>();
  for (const rp of req.resourceProfiles as Obj[]) {
    for (const a of rp.resource?.attributes ?? []) if (a.key === 'process.pid') pids.add(String(a.value.intValue));
    for (const sp of rp.scopeProfiles as Obj[]) {
      for (const p of sp.profiles as Obj[]) {
        const type = strings[p.sampleType?.typeStrindex ?? 0];
        let events = 0;
        for (const s of p.samples as Obj[]) {
          events += s.values ? (s.values as string[]).reduce((a, v) => a + Number(v), 0) : (s.timestampsUnixNano ?? []).length;
        }
        if (type === 'samples') cpuNs += events * Number(p.period);
        else if (type === 'off_cpu') offCpuNs += events;
        else throw new Error(`capture has an unexpected sample type ${type}`);
      }
    }
  }
  return { cpuNs, offCpuNs, pids };
}
