/**
 * OTLP codec throughput: decoding the OpenTelemetry eBPF profiler capture (protobuf and JSON) and
 * encoding an agent-sized batch (what `kiln agent` sends every interval).
 *
 *   npx tsx bench/otlp-codec.ts [iterations=50] [processes=200]
 *
 * A row is one (stack, value) pair of a decoded Kiln profile.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeOtlpJson, decodeOtlpProtobuf, encodeOtlpProtobuf } from '../src/formats/otlp.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom } from '../src/model/index.js';
import type { Profile } from '../src/model/index.js';
import { requireTestdata } from '../test/support/testdata.js';

const iterations = Number(process.argv[2] ?? 50);
const processes = Number(process.argv[3] ?? 200);

function rows(ps: readonly Profile[]): number {
  return ps.reduce((n, p) => n + p.values.length, 0);
}

/** Wall time and this process's CPU time (user + system) per request: the machine is shared, CPU time is steadier. */
function measure(label: string, bytes: number, run: () => number): void {
  run(); // warm-up: JIT and caches
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < iterations; i++) n += run();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  console.log(
    `${label.padEnd(52)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB ${String(n / iterations).padStart(6)} rows ` +
      `${(ms / iterations).toFixed(1).padStart(7)} ms wall ${(cpuMs / iterations).toFixed(1).padStart(7)} ms CPU ` +
      `${Math.round((n / cpuMs) * 1000).toLocaleString('en-US').padStart(10)} rows/CPU-s`,
  );
}

/**
 * One CPU profile per process, 50 stacks of 20–35 frames over a shared set of 400 functions in ten
 * binaries; a dictionary per process, or one shared by the batch (the agent's shareDictionary).
 */
function agentBatch(shared: boolean): Profile[] {
  const out: Profile[] = [];
  const one = new DictionaryBuilder();
  for (let p = 0; p < processes; p++) {
    const b = shared ? one : new DictionaryBuilder();
    const bin = b.mapping(`/usr/bin/app${p % 10}`, `build${p % 10}`);
    const stacks: number[] = [];
    const values: number[] = [];
    for (let s = 0; s < 50; s++) {
      const depth = 20 + ((s * 7) % 16);
      const locs: number[] = [];
      for (let d = 0; d < depth; d++) {
        const f = (s * 31 + d * 17) % 400;
        locs.push(b.location(bin, BigInt(0x1000 + f * 16), [{ function: b.function(`fn_${f}`), line: d }]));
      }
      stacks.push(b.stack(locs));
      values.push(((s % 9) + 1) * 52_631_579);
    }
    out.push({ type: CPU_TYPE, labels: labelsFrom({ service_name: `svc${p % 20}`, pid: String(1000 + p) }), timeMs: Date.now(), durationNs: 10e9, period: 1e9 / 19, dict: b.dict, stacks, values });
  }
  return out;
}

const dir = requireTestdata('otlp');
const bin = new Uint8Array(readFileSync(path.join(dir, 'otel-ebpf-profile.pb.bin')));
const json = readFileSync(path.join(dir, 'otel-ebpf-profile.pb.json'), 'utf8');
console.log(`node ${process.version}, ${iterations} iterations`);
measure('decode capture (protobuf)', bin.length, () => rows(decodeOtlpProtobuf(bin)));
measure('decode capture (OTLP/JSON)', json.length, () => rows(decodeOtlpJson(json)));
for (const shared of [false, true]) {
  const batch = agentBatch(shared);
  const encoded = encodeOtlpProtobuf(batch);
  const what = `${processes} processes, ${shared ? 'shared dict' : 'dict each'}`;
  measure(`encode agent batch (${what})`, encoded.length, () => (encodeOtlpProtobuf(batch), rows(batch)));
  measure(`decode agent batch (${what})`, encoded.length, () => rows(decodeOtlpProtobuf(encoded)));
}
