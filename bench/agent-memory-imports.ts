/**
 * What importing costs the agent, measured so that the host's load cannot move it: each set of modules is
 * imported in a fresh node process (plain node on the tsc output in dist/, as `node bin/kiln.js agent`
 * runs), which then reports its V8 heap and the node built-ins it loaded and waits; this process reads the
 * child's /proc/PID/smaps by owner (bench/agent-memory-smaps.ts) from outside and ends it. Reading smaps
 * from inside the child would itself move the figure: parsing the text is hot enough to wake V8's
 * optimizing compilers, whose code in the node binary (≈ 4 MiB of file pages) then becomes resident.
 *
 * Sets: bare node; each third-party package and node built-in the agent's import graph reaches, alone;
 * then the agent's graph added group by group (cumulative), ending with what each tree's
 * dist/agent/cli-main.js imports at its top. Medians of `runs` children per set; the figures are deterministic to ≈ 0.2 MiB.
 *
 *   npm run build (or npx tsc -p tsconfig.json, under the bench lock) first, then
 *   npx tsx bench/agent-memory-imports.ts [runs=3] [anchor tree: an export of another commit, built | -] [node flags…]
 *
 * KILN_IMPORTS_V8_FLAGS="--semi-space-growth-factor=1" sets V8 flags at run time before the imports, as bin/kiln.js
 * sets the agent verb's (some, like that one, take effect only that way).
 *
 * The anchor tree's cumulative sets are measured in the same run, each right after this tree's.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readBreakdown, type Owner } from './agent-memory-smaps.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What the child reports about itself before it is measured from outside. */
interface ChildReport {
  readonly heapTotalKiB: number;
  readonly heapUsedKiB: number;
  readonly newSpaceKiB: number;
  readonly builtins: number;
}
interface Measure extends ChildReport {
  readonly rssKiB: number;
  readonly byOwner: ReadonlyMap<Owner, number>;
}

// The child: import each specifier (relative ones from the tree's dist/), report, then wait to be ended.
// Bare specifiers resolve from the tree's root (the child runs there), as the agent's own imports do.
const CHILD = `
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
if (process.env.KILN_IMPORTS_V8_FLAGS) setFlagsFromString(process.env.KILN_IMPORTS_V8_FLAGS);
for (const s of JSON.parse(process.env.KILN_IMPORTS)) await import(s.startsWith('dist/') ? pathToFileURL(s).href : s);
await new Promise((r) => setTimeout(r, 300)); // let V8's background compile jobs of the imports finish
const m = process.memoryUsage();
const ns = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(JSON.stringify({ heapTotalKiB: m.heapTotal >> 10, heapUsedKiB: m.heapUsed >> 10, newSpaceKiB: (ns?.space_size ?? 0) >> 10, builtins: process.moduleLoadList.length }) + '\\n');
setTimeout(() => {}, 60_000);
`;

function measureOnce(root: string, imports: readonly string[], flags: readonly string[]): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', CHILD], {
      cwd: root,
      env: { ...process.env, KILN_IMPORTS: JSON.stringify(imports) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child importing ${imports.join(' ')} in ${root} exited (${code ?? signal}): ${stderr}`));
    });
    createInterface({ input: child.stdout }).once('line', (line) => {
      const report = JSON.parse(line) as ChildReport;
      setTimeout(() => {
        try {
          const b = readBreakdown(child.pid!, process.execPath);
          resolve({ ...report, rssKiB: b.rssKiB, byOwner: new Map([...b.byOwner].map(([o, v]) => [o, v.rssKiB])) });
        } catch (e) {
          reject(e as Error);
        } finally {
          child.kill('SIGKILL');
        }
      }, 100);
    });
  });
}

const D = (f: string): string => `dist/${f}.js`;
const ALONE: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['commander', ['commander']],
  ['koffi', ['koffi']],
  ['xxhash-wasm (import only)', ['xxhash-wasm']],
  ['re2js', ['re2js']],
  ['pprof-format', ['pprof-format']],
  ['yaml (only with --config)', ['yaml']],
  ['node:http', ['node:http']],
  ['node:https', ['node:https']],
  ['node:net', ['node:net']],
  ['node:zlib', ['node:zlib']],
  ['node:crypto', ['node:crypto']],
  ['node:inspector/promises', ['node:inspector/promises']],
  ['node:v8 + node:perf_hooks', ['node:v8', 'node:perf_hooks']],
  ['demangle (its wasm, instantiated on import)', [D('agent/symbolize/demangle')]],
];
const GROUPS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['model (xxhash-wasm instantiated, re2js)', [D('model/index')]],
  ['formats', ['compression', 'kiln-rows', 'otlp-request-dictionary', 'pprof-encode', 'pprof'].map((f) => D(`formats/${f}`))],
  ['exporters', ['exporter', 'exporter-otlp', 'exporter-post', 'exporter-profiles', 'exporter-rows', 'exporter-wire'].map((f) => D(`agent/${f}`))],
  ['symbolize', [D('agent/symbolize/symbolizer')]],
  ['unwind, v8 reader', [D('agent/unwind/index'), D('agent/v8/reader')]],
  ['bpf, sampler', [D('agent/bpf/libbpf'), D('agent/sampler')]],
  ['metadata', [D('agent/metadata/index')]],
  ['metrics', [D('agent/metrics'), D('agent/metrics-runtime')]],
  ['agent.ts', [D('agent/agent')]],
];

/**
 * The modules a tree's agent entry (dist/agent/cli-main.js) imports at its top, read from that tree's
 * own file: the last cumulative row, so each tree is measured with what its entry really loads (since
 * stop 31 a valid command line no longer loads commander; before, cli/agent.js did).
 */
function entryImports(root: string): string[] {
  const text = readFileSync(path.join(root, 'dist/agent/cli-main.js'), 'utf8');
  return [...text.matchAll(/^import\s[^'"]*['"]([^'"]+)['"];?$/gm)].map((m) => (m[1]!.startsWith('.') ? path.posix.join('dist/agent', m[1]!) : m[1]!));
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (kib: number): string => (kib / 1024).toFixed(1);

function row(label: string, ms: readonly Measure[]): string {
  const owner = (o: Owner): number => median(ms.map((m) => m.byOwner.get(o) ?? 0));
  const anonOther = median(ms.map((m) => (m.byOwner.get('malloc main heap') ?? 0) + (m.byOwner.get('malloc thread arenas') ?? 0) + (m.byOwner.get('other anonymous (malloc mmaps: large buffers, working memory)') ?? 0)));
  return `| ${label} | ${mib(median(ms.map((m) => m.rssKiB)))} | ${mib(owner('node binary'))} | ${mib(owner('shared libraries') + owner('native addons (.node)'))} | ${mib(owner('V8 heap pages (256 KiB-aligned)'))} | ${mib(owner('V8 code (anonymous, executable)'))} | ${mib(anonOther)} | ${mib(median(ms.map((m) => m.heapTotalKiB)))} / ${mib(median(ms.map((m) => m.heapUsedKiB)))} | ${mib(median(ms.map((m) => m.newSpaceKiB)))} | ${median(ms.map((m) => m.builtins))} |`;
}

async function measure(root: string, imports: readonly string[], runs: number, flags: readonly string[]): Promise<Measure[]> {
  const out: Measure[] = [];
  for (let i = 0; i < runs; i++) out.push(await measureOnce(root, imports, flags));
  return out;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const anchor = process.argv[3] && process.argv[3] !== '-' ? path.resolve(process.argv[3]) : undefined;
  const flags = process.argv.slice(4);
  console.log(`bench/agent-memory-imports.ts, ${runs} children a set, node flags: ${flags.join(' ') || 'none'}, V8 flags set at run time: ${process.env.KILN_IMPORTS_V8_FLAGS ?? 'none'}, 1-min load ${loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()}\n`);
  const head = '| set | RSS MiB | node binary | shared libs + addons | V8 heap pages | V8 code | malloc (heap, arenas, mmaps) | V8 heap committed / used | new space | node built-ins loaded |\n|---|---|---|---|---|---|---|---|---|---|';
  console.log('Alone (each on bare node):\n');
  console.log(head);
  console.log(row('bare node', await measure(ROOT, [], runs, flags)));
  for (const [label, imports] of ALONE) console.log(row(label, await measure(ROOT, imports, runs, flags)));
  console.log('\nThe agent\'s graph, cumulative (each row adds its group to the rows above)' + (anchor ? '; the anchor tree\'s row below each of this tree\'s' : '') + ':\n');
  console.log(head);
  let acc: string[] = [];
  for (const [label, imports] of GROUPS) {
    acc = [...acc, ...imports];
    console.log(row(`+ ${label}`, await measure(ROOT, acc, runs, flags)));
    if (anchor) console.log(row(`  anchor: + ${label}`, await measure(anchor, acc, runs, flags)));
  }
  const entry = entryImports(ROOT);
  console.log(row(`+ the entry's imports (${entry.join(', ')})`, await measure(ROOT, [...acc, ...entry], runs, flags)));
  if (anchor) {
    const anchorEntry = entryImports(anchor);
    console.log(row(`  anchor: + the entry's imports (${anchorEntry.join(', ')})`, await measure(anchor, [...acc, ...anchorEntry], runs, flags)));
  }
  console.log(`\n1-min load at end ${loadavg()[0]!.toFixed(1)}`);
}

await main();
