/**
 * The peak memory of one first-time table build, measured so that the host's load cannot move it: each
 * build runs in a fresh node process that imports the agent's modules, tunes malloc as the agent does,
 * warms the code on libc's tables, then resets its peak RSS (`/proc/self/clear_refs` 5) and builds
 * either the symbol table (`loadSymbols`, names read back from the file as the agent does) or the unwind
 * rows (`unwindTableOf(elf, false)`, as the agent compiles them before copying into the BPF array) of
 * one large binary — or the kernel's table from /proc/kallsyms (kind `kallsyms`, read once at the agent's
 * start, cold there, warm here: the warm-up loads it three times; needs root to see addresses). Reported: the peak RSS the build added over the RSS before it (VmHWM − VmRSS), and
 * what the build keeps, and the RSS left over the RSS before once the build is done and what it made released (no GC
 * forced: V8's garbage from the build counts, as it would in the agent until its next collection). Each tree's children
 * alternate, so an anchor tree is measured in the same run.
 *
 *   npx tsx bench/agent-memory-first-load.ts [runs=3] [anchor tree: an export of another commit | -] [kinds=symbols,unwind]
 *
 * The anchor tree needs node_modules (a symlink to this checkout's is enough). Binaries: node (this
 * process's), the largest libLLVM present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Kind = 'symbols' | 'unwind' | 'kallsyms';
interface ChildResult {
  readonly peakAddedKiB: number;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  readonly keptBytes: number;
  readonly cpuMs: number;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');

function statusKiB(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]);
}

async function child(root: string, kind: Kind, binary: string): Promise<void> {
  const mod = (rel: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.join(root, rel)).href) as Promise<Record<string, unknown>>;
  const { tuneMalloc } = (await mod('src/agent/malloc-tuning.ts')) as { tuneMalloc: () => boolean };
  const { loadSymbols, readBinaryInfo } = (await mod('src/agent/symbolize/binary.ts')) as {
    loadSymbols: (bin: unknown, search: { debugDirectories: string[]; rootPrefix: string }) => { byteSize: number };
    readBinaryInfo: (open: string, mapped: string, id: string) => unknown;
  };
  const { withElf } = (await mod('src/agent/symbolize/elf.ts')) as { withElf: <T>(p: string, fn: (elf: unknown) => T) => T };
  const { unwindTableOf } = (await mod('src/agent/unwind/rows.ts')) as {
    unwindTableOf: (elf: unknown, keep: boolean) => { rows: Buffer; count: number; release?: () => void } | undefined;
  };
  const { KernelSymbols } = (await mod('src/agent/symbolize/kallsyms.ts')) as { KernelSymbols: { load: () => { size: number } } };
  if (!tuneMalloc()) throw new Error('glibc malloc could not be tuned as the agent tunes it');
  const build = (file: string): number => {
    if (kind === 'kallsyms') {
      if (KernelSymbols.load().size === 0) throw new Error('/proc/kallsyms shows no addresses: run as root');
      return -1; // the kernel table's bytes are not exposed
    }
    if (kind === 'symbols') return loadSymbols(readBinaryInfo(file, file, ''), { debugDirectories: [], rootPrefix: '' }).byteSize;
    const table = withElf(file, (elf) => unwindTableOf(elf, false));
    const bytes = table?.rows.length ?? 0;
    table?.release?.();
    return bytes;
  };
  // Warm the code paths on a small binary first: the agent meets large binaries with warm code.
  const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
  if (libc) for (let i = 0; i < 3; i++) build(libc);
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const rssBeforeKiB = statusKiB('VmRSS');
  const cpu = process.cpuUsage();
  const keptBytes = build(binary);
  const used = process.cpuUsage(cpu);
  const result: ChildResult = { peakAddedKiB: statusKiB('VmHWM') - rssBeforeKiB, rssBeforeKiB, rssAfterKiB: statusKiB('VmRSS'), keptBytes, cpuMs: (used.user + used.system) / 1000 };
  process.stdout.write(JSON.stringify(result));
}

function largestLibLlvm(): string | undefined {
  const found: string[] = [];
  for (const dir of ['/usr/lib/x86_64-linux-gnu', ...(existsSync('/usr/lib') ? readdirSync('/usr/lib').filter((d) => d.startsWith('llvm-')).map((d) => `/usr/lib/${d}/lib`) : [])]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (/^libLLVM.*\.so/.test(f)) found.push(path.join(dir, f));
  }
  return found.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

function runChild(root: string, kind: Kind, binary: string): ChildResult {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, SELF, 'child', root, kind, binary], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child (${root}, ${kind}, ${binary}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (kib: number): string => (kib / 1024).toFixed(1);

async function main(): Promise<void> {
  if (process.argv[2] === 'child') return child(process.argv[3]!, process.argv[4] as Kind, process.argv[5]!);
  const runs = Number(process.argv[2] ?? 3);
  const anchor = process.argv[3] && process.argv[3] !== '-' ? path.resolve(process.argv[3]) : undefined;
  const kinds = (process.argv[4] ?? 'symbols,unwind').split(',') as Kind[];
  const trees = [ROOT, ...(anchor ? [anchor] : [])];
  const binaries = [process.execPath, largestLibLlvm()].filter((b): b is string => b !== undefined);
  console.log(`bench/agent-memory-first-load.ts, ${runs} runs, 1-min load ${loadavg()[0]!.toFixed(1)} at start, ${new Date().toISOString()}`);
  console.log(`trees: this checkout${anchor ? ' and the anchor given' : ''}; children alternate between trees\n`);
  console.log('| binary | build | tree | peak added MiB (median; min–max) | RSS before MiB | RSS after − before MiB (median) | kept KiB | CPU ms (median; host-dependent) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const binary of binaries) {
    for (const kind of kinds) {
      if (kind === 'kallsyms' && binary !== binaries[0]) continue; // one kernel
      const results = new Map<string, ChildResult[]>(trees.map((t) => [t, []]));
      for (let i = 0; i < runs; i++) for (const t of trees) results.get(t)!.push(runChild(t, kind, binary));
      for (const t of trees) {
        const rs = results.get(t)!;
        const peaks = rs.map((r) => r.peakAddedKiB);
        console.log(
          `| ${kind === 'kallsyms' ? 'kernel' : path.basename(binary)} | ${kind} | ${t === ROOT ? 'this' : 'anchor'} | ${mib(median(peaks))} (${mib(Math.min(...peaks))}–${mib(Math.max(...peaks))}) | ${mib(median(rs.map((r) => r.rssBeforeKiB)))} | ${mib(median(rs.map((r) => r.rssAfterKiB - r.rssBeforeKiB)))} | ${rs[0]!.keptBytes < 0 ? '—' : (median(rs.map((r) => r.keptBytes)) / 1024).toFixed(0)} | ${median(rs.map((r) => r.cpuMs)).toFixed(0)} |`,
        );
      }
    }
  }
  console.log(`\n1-min load at end ${loadavg()[0]!.toFixed(1)}`);
}

await main();
