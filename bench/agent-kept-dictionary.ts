/**
 * What the agent's kept dictionary (src/agent/exporter-profiles.ts: KeptDictionary) holds on a host where
 * processes come and go, as a count the host's load does not move: V8 heap bytes retained, after full GCs,
 * by the dictionary and the rows push encoder's content ids of it, every 10 intervals and at the end.
 * Simulated intervals through a checkout's own buildProfiles and RowsEncoder (every stack confirmed):
 * 40 long-lived processes, each with 60 stacks 20 frames deep over 150 frames of its own and 40 shared
 * (libc, the runtime); and 10 new processes an interval, each with 30 stacks 12 deep, 8 frames of each its
 * own (JIT code, a new build: new functions, a third unsymbolized), the rest shared. A new process lives
 * 3 intervals. Function names are made when a frame is first symbolized, as the agent's symbolizer makes them.
 *
 *   node --expose-gc --import tsx bench/agent-kept-dictionary.ts [checkout=.] [intervals=360]
 *
 * A checkout is a tree with its node_modules and src/gen (e.g. a `git archive` export of another commit).
 */
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSample, Symbolizer } from '../src/agent/types.js';
import type { DictionaryBuilder } from '../src/model/index.js';

const root = path.resolve(process.argv[2] ?? fileURLToPath(new URL('../', import.meta.url)));
const intervals = Number(process.argv[3] ?? 360);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx');

const at = (f: string): string => path.join(root, 'src', f);
const { buildProfiles, KeptDictionary } = (await import(at('agent/exporter-profiles.ts'))) as typeof import('../src/agent/exporter-profiles.js');
const { RowsEncoder } = (await import(at('agent/exporter-rows.ts'))) as typeof import('../src/agent/exporter-rows.js');
const { labelsFrom } = (await import(at('model/index.ts'))) as typeof import('../src/model/index.js');

/**
 * A frame's address says what it is: bits 32+ the binary (0: shared libraries), the rest the frame.
 * A frame of a process's own code with (frame % 3 === 0) has no name, as JIT code without a perf map.
 */
const symbolizer: Symbolizer = {
  observe: () => {},
  symbolize(_pid: number, user: bigint[], _kernel: bigint[], b: DictionaryBuilder): number[] {
    return user.map((a) => {
      const binary = Number(a >> 32n);
      const frame = Number(a & 0xffffffffn);
      const mapping = binary === 0 ? b.mapping('/usr/lib/x86_64-linux-gnu/libc.so.6', '0123456789abcdef0123456789abcdef01234567') : b.mapping(`/opt/app-${binary}/bin/server`, `${binary.toString(16).padStart(8, '0')}89abcdef0123456789abcdef01234567`);
      if (binary !== 0 && frame % 3 === 0) return b.location(mapping, a, []);
      const name = `app${binary}::Handler${frame % 97}::process_${frame}(std::string const&, int)`;
      return b.location(mapping, a, [{ function: b.function(name, `_ZN3app${binary}7Handler${frame}E`, ''), line: frame % 400 }]);
    });
  },
  stats: () => ({ frames: 0, symbolized: 0 }),
};
const labeler = { labels: (pid: number, comm: string) => labelsFrom({ service_name: comm, pid: String(pid) }) };

let seed = 12345;
const next = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
const frameOf = (binary: number, frame: number): bigint => (BigInt(binary) << 32n) | BigInt(frame);

/** A process's stacks: `count` stacks `depth` deep over `own` frames of its binary and the 40 shared ones. */
function stacksOf(binary: number, count: number, depth: number, own: number, ownPerStack: number): bigint[][] {
  return Array.from({ length: count }, () =>
    Array.from({ length: depth }, (_, d) => (d < ownPerStack ? frameOf(binary, next(own)) : frameOf(0, next(40)))),
  );
}

const longLived = Array.from({ length: 40 }, (_, i) => ({ pid: 100 + i, stacks: stacksOf(1 + i, 60, 20, 150, 14) }));
const shortLived: { pid: number; born: number; stacks: bigint[][] }[] = [];

function samplesOf(i: number): RawSample[] {
  for (let p = 0; p < 10; p++) {
    const pid = 10_000 + i * 10 + p;
    // Each new process's own code is new (a new binary number: a new build or JIT code at new addresses).
    shortLived.push({ pid, born: i, stacks: stacksOf(1000 + pid, 30, 12, 60, 8) });
  }
  while (shortLived.length > 0 && shortLived[0]!.born <= i - 3) shortLived.shift();
  const out: RawSample[] = [];
  for (const proc of [...longLived, ...shortLived]) {
    for (const user of proc.stacks) out.push({ pid: proc.pid, kind: 'cpu', comm: proc.pid < 10_000 ? 'server' : 'job', userAddrs: user, kernelAddrs: [], count: 1 + next(5) });
  }
  return out;
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** Heap used once the current job has ended (a WeakRef's target or a microtask's values are freed only then). */
async function heapUsedLater(): Promise<number> {
  await new Promise((r) => setTimeout(r, 10));
  return heapUsed();
}

const window = { startMs: 1_700_000_000_000, endMs: 1_700_000_010_000 };

interface Held {
  kept?: InstanceType<typeof KeptDictionary>;
  rows?: InstanceType<typeof RowsEncoder>;
}

/** Runs the intervals; what they leave is only in `held` (a profile left in a frame of the top-level code would keep an old dictionary). */
function simulate(held: Held, baseline: number): { bytes: number; interval: number; entries: number } {
  let largest = { bytes: 0, interval: 0, entries: 0 };
  for (let i = 1; i <= intervals; i++) {
    const { profiles } = buildProfiles(samplesOf(i), window, symbolizer, labeler, { frequencyHz: 19, shareDictionary: true, keptDictionary: held.kept });
    held.rows!.confirm(held.rows!.encode(profiles).stackIds);
    if (i % 10 !== 0) continue;
    const bytes = heapUsed() - baseline;
    const s = held.kept!.stats();
    const entries = s.dictionaryLocations + s.dictionaryStacks;
    if (bytes > largest.bytes) largest = { bytes, interval: i, entries };
    if (i % 60 === 0) console.log(`interval ${i}: ${entries} entries (${s.dictionaryLocations} locations, ${s.dictionaryStacks} stacks), heap held ${(bytes / 1e6).toFixed(2)} MB, starts over/evictions ${s.dictionaryResets}`);
  }
  return largest;
}

const baseline = heapUsed();
const held: Held = { kept: new KeptDictionary(), rows: new RowsEncoder() };
const t0 = process.cpuUsage();
const largest = simulate(held, baseline);
const cpu = process.cpuUsage(t0);
const s = held.kept!.stats();
const entries = s.dictionaryLocations + s.dictionaryStacks;
const withAll = await heapUsedLater();
delete held.rows;
const withoutRows = await heapUsedLater();
delete held.kept;
const withoutBoth = await heapUsedLater();
console.log(
  JSON.stringify({
    checkout: root,
    intervals,
    entries,
    dictionaryBytes: withoutRows - withoutBoth,
    rowsIdsAndConfirmedBytes: withAll - withoutRows,
    bytesPerEntry: Math.round((withoutRows - withoutBoth) / entries),
    largest: { heapHeldMB: +(largest.bytes / 1e6).toFixed(2), atInterval: largest.interval, entries: largest.entries },
    cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    load1: loadavg()[0]!.toFixed(1),
  }),
);
