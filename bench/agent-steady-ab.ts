/**
 * Two checkouts of the agent in one process, interleaved round by round: CPU of one steady interval
 * (read stacks + buildProfiles + rows push, every stack confirmed) and of one interval's 50 processes
 * gone before their samples were read (buildProfiles, µs per process). Separate processes run minutes
 * apart on a shared host see its load drift; here both sides see the same load. Each side also pays
 * for some of the other's garbage (one heap), so allocation cuts show less than they save.
 *
 *   npx tsx bench/agent-steady-ab.ts <before checkout> <after checkout> [rounds=15]
 *
 * A checkout is a tree with its node_modules and src/gen (e.g. a `git archive` export). The steady
 * samples: 40 live processes (sleep, python3) × 20 stacks × 15 frames in their own code, read from
 * stored stack bytes as each checkout's sampler reads them (lazily where it has StackArena).
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { RawSample } from '../src/agent/types.js';
import type { Profile } from '../src/model/index.js';
import { storedReader, storeStacks, type SamplerModule } from './stored-stacks.js';

const [beforeRoot, afterRoot] = [process.argv[2], process.argv[3]];
if (!beforeRoot || !afterRoot) throw new Error('usage: npx tsx bench/agent-steady-ab.ts <before checkout> <after checkout> [rounds=15]');
const rounds = Number(process.argv[4] ?? 15);

async function checkout(root: string) {
  const at = (f: string) => path.resolve(root, 'src/agent', f);
  return {
    profiles: (await import(at('exporter-profiles.ts'))) as typeof import('../src/agent/exporter-profiles.js'),
    labeler: (await import(at('metadata/labeler.ts'))) as typeof import('../src/agent/metadata/labeler.js'),
    symbolizer: (await import(at('symbolize/symbolizer.ts'))) as typeof import('../src/agent/symbolize/symbolizer.js'),
    maps: (await import(at('symbolize/proc-maps.ts'))) as typeof import('../src/agent/symbolize/proc-maps.js'),
    sampler: (await import(at('sampler.ts'))) as SamplerModule,
    rows: (await import(at('exporter-rows.ts'))) as typeof import('../src/agent/exporter-rows.js'),
  };
}
type Checkout = Awaited<ReturnType<typeof checkout>>;
const sides = { before: await checkout(beforeRoot), after: await checkout(afterRoot) };

const kids = Array.from({ length: 40 }, (_, i) => spawn(i % 2 ? '/usr/bin/python3' : 'sleep', i % 2 ? ['-c', 'import time; time.sleep(600)'] : ['600'], { stdio: 'ignore' }));
await new Promise((r) => setTimeout(r, 1500));
let seed = 99;
const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
let hashes = 0n;
const live: RawSample[] = kids.flatMap((k) => {
  const code = (sides.after.maps.readMaps(k.pid!) ?? []).filter(sides.after.maps.isFileBacked);
  const addr = () => {
    const m = code[random(code.length)]!;
    return BigInt(m.start + random(m.end - m.start));
  };
  return code.length === 0 ? [] : Array.from({ length: 20 }, () => ({ pid: k.pid!, kind: 'cpu' as const, comm: '', userAddrs: Array.from({ length: 15 }, addr), kernelAddrs: [], userStack: ++hashes, count: 1 + random(5) }));
});
const liveStored = storeStacks(live);

/** One side's steady interval and churn interval, each returning its CPU µs. */
function side(c: Checkout) {
  const labeler = new c.labeler.MetadataLabeler({});
  const symbolizer = new c.symbolizer.ProcSymbolizer({});
  const kept = new c.profiles.KeptDictionary();
  const rows = new c.rows.RowsEncoder();
  const window = { startMs: Date.now() - 10_000, endMs: Date.now() };
  const read = storedReader(c.sampler);
  const build = (samples: RawSample[]): Profile[] => c.profiles.buildProfiles(samples, window, symbolizer, labeler, { frequencyHz: 19, shareDictionary: true, keptDictionary: kept }).profiles;
  rows.confirm(rows.encode(build(read(live, liveStored))).stackIds); // the first interval: tables, snapshots, labels
  let gonePid = 3_900_000 + (c === sides.after ? 500_000 : 0);
  return {
    steady: () => cpuUs(() => c.rows.rowsRequestBody(rows.encode(build(read(live, liveStored))).body)),
    churn: () => {
      const samples = Array.from({ length: 50 }, () => {
        const pid = gonePid++;
        const base = 0x5550_0000_0000n + BigInt(random(1 << 20)) * 0x1000n;
        return Array.from({ length: 4 }, () => ({ pid, kind: 'cpu' as const, comm: 'sh', userAddrs: Array.from({ length: 12 }, () => base + BigInt(random(1 << 16))), kernelAddrs: [], userStack: ++hashes, count: 1 }));
      }).flat();
      const stored = storeStacks(samples);
      return cpuUs(() => build(read(samples, stored))) / 50;
    },
  };
}

function cpuUs(f: () => void): number {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return d.user + d.system;
}

const runs = { before: side(sides.before), after: side(sides.after) };
const got = { steady: { before: [] as number[], after: [] as number[] }, churn: { before: [] as number[], after: [] as number[] } };
try {
  for (let r = -3; r < rounds; r++) {
    // Alternate which side goes first; the first three rounds warm the JIT and are not counted.
    for (const s of r % 2 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
      const steady = runs[s].steady();
      const churn = runs[s].churn();
      if (r >= 0) got.steady[s].push(steady), got.churn[s].push(churn);
    }
  }
} finally {
  for (const k of kids) k.kill('SIGKILL');
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`load average ${loadavg()[0]!.toFixed(1)}, ${rounds} interleaved rounds, medians (CPU):`);
console.log(`| steady interval: read stacks + buildProfiles + rows push, ms | ${(median(got.steady.before) / 1000).toFixed(2)} | ${(median(got.steady.after) / 1000).toFixed(2)} |`);
console.log(`| churn: buildProfiles per process gone before its samples are read, µs | ${median(got.churn.before).toFixed(1)} | ${median(got.churn.after).toFixed(1)} |`);
