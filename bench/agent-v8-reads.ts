/**
 * The V8 reader's cost per fresh read of a function (v8/reader.ts: a SharedFunctionInfo not yet known, or
 * known in a process the reader forgot), load-independent: reads of /proc/PID/mem and their bytes, bytes
 * allocated on this process's heap, CPU — over a live node process running one large script (FUNCTIONS
 * functions over LINES lines, each compiled: their names and start positions come from ScopeInfos).
 * With `ends` the script's line ends are computed by V8 first (as an Error's stack trace or source-map
 * support does in a real service: the reader then reads V8's FixedArray of them), else the reader counts
 * the source's newlines itself (kept per script between reads).
 * Each round forgets the process (its names and file) and reads every function again, the reader's other
 * caches kept: what a new function costs in a node process met before. With `none` each round is a new
 * interval and the words read are the functions' JSFunction objects, no SharedFunctionInfo: what a word the
 * walker records again and again, holding no function, costs an interval (the reader's answer kept or not). Then the process exits and every
 * function is read once more (a frame of a process that exited within the interval, whose memory file the
 * reader had not open): the opens of /proc/PID/mem that costs are counted.
 *   node --min-semi-space-size=128 --max-semi-space-size=128 --import tsx bench/agent-v8-reads.ts [root] [ends|source|none] [rounds=10]
 * `root`: the checkout whose src/ is measured (default this one). Linux, node with V8's post-mortem symbols.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(process.argv[2] ?? '.');
const mode = process.argv[3] ?? 'ends';
const ROUNDS = Number(process.argv[4] ?? 10);
const FUNCTIONS = 300;
const LINES = 30_000;
const { readV8Binary } = (await import(pathToFileURL(path.join(root, 'src/agent/v8/constants.ts')).href)) as typeof import('../src/agent/v8/constants.js');
const { V8FrameReader } = (await import(pathToFileURL(path.join(root, 'src/agent/v8/reader.ts')).href)) as typeof import('../src/agent/v8/reader.js');

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-v8-reads-'));
const script = path.join(dir, 'big.js');
const filler = Math.floor(LINES / FUNCTIONS) - 1;
const lines: string[] = [];
for (let i = 0; i < FUNCTIONS; i++) {
  lines.push(`function fn${i}(x) { return x + ${i}; }`);
  for (let j = 0; j < filler; j++) lines.push(`// filler ${i}.${j}`);
}
lines.push(`const all = [${Array.from({ length: FUNCTIONS }, (_, i) => `fn${i}`).join(', ')}];`);
lines.push('for (const f of all) f(1);');
if (mode === 'ends') lines.push('void new Error().stack;');
lines.push('for (const f of all) %DebugPrint(f);');
lines.push("process.stdout.write('@@ ready\\n');");
lines.push("process.stdin.on('data', () => {}); process.stdin.on('end', () => process.exit(0));");
writeFileSync(script, lines.join('\n'));

const out = path.join(dir, 'out.txt');
const { openSync } = await import('node:fs');
const child = spawn(process.execPath, ['--allow-natives-syntax', script], { stdio: ['pipe', openSync(out, 'w'), 'inherit'] });
try {
  const deadline = Date.now() + 30_000;
  let text = '';
  while (!(text = readFileSync(out, 'utf8')).includes('@@ ready')) {
    if (Date.now() > deadline) throw new Error(`the fixture did not get ready:\n${text.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const sfis = [...text.matchAll(/- shared_info: (0x[0-9a-f]+)/g)].map((m) => Number(m[1]));
  if (sfis.length < FUNCTIONS) throw new Error(`${sfis.length} SharedFunctionInfos printed, ${FUNCTIONS} expected`);
  const fns = [...text.matchAll(/^DebugPrint: (0x[0-9a-f]+): \[Function\]/gm)].map((m) => Number(m[1]));
  if (fns.length < FUNCTIONS) throw new Error(`${fns.length} JSFunctions printed, ${FUNCTIONS} expected`);
  const bin = readV8Binary(process.execPath);
  if (!bin) throw new Error(`${process.execPath} lacks V8's post-mortem constants`);
  const pid = child.pid!;
  const reader = new V8FrameReader({ of: () => ({ constants: bin.constants }) });
  // Every read of the process's memory, counted (the reader's one way in).
  const r = reader as unknown as { readMem: (pid: number, addr: number, length: number, into?: Buffer) => Buffer | undefined };
  const readMem = r.readMem.bind(reader);
  let reads = 0;
  let readBytes = 0;
  r.readMem = (p, addr, length, into) => {
    reads++;
    readBytes += length;
    return readMem(p, addr, length, into);
  };
  const round = () => {
    if (mode === 'none') {
      reader.nextInterval();
      let none = 0;
      for (let i = 0; i < FUNCTIONS; i++) if (reader.frame(pid, fns[i]!) === undefined) none++;
      return none;
    }
    reader.forget(pid);
    let named = 0;
    for (let i = 0; i < FUNCTIONS; i++) {
      const f = reader.frame(pid, sfis[i]!);
      if (f?.name === `fn${i}` && f.line === 1 + i * (filler + 1) && f.file.endsWith('big.js')) named++;
    }
    return named;
  };
  // The first round fills the reader's script caches (with `source`: each script's lines counted once).
  const first0 = process.memoryUsage();
  const firstCpu0 = process.cpuUsage();
  round();
  const firstCpu = process.cpuUsage(firstCpu0);
  const first1 = process.memoryUsage();
  const firstRound = `first round: ${first1.heapUsed - first0.heapUsed} bytes allocated on the heap + ${first1.arrayBuffers - first0.arrayBuffers} in array buffers, ${((firstCpu.user + firstCpu.system) / 1000).toFixed(1)} ms CPU`;
  const mem0 = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  const reads0 = reads;
  const bytes0 = readBytes;
  let named = 0;
  for (let i = 0; i < ROUNDS; i++) named += round();
  const cpu = process.cpuUsage(cpu0);
  const mem = process.memoryUsage();
  const stats = reader.stats();
  // Taken here: the reads below (the process gone) are not the rounds'.
  const roundReads = reads - reads0;
  const roundBytes = readBytes - bytes0;
  const heap = mem.heapUsed - mem0.heapUsed;
  // Array buffers' memory (Buffers outside node's pool, their own malloc'd memory) is not in the heap's figure.
  const arrayBuffers = mem.arrayBuffers - mem0.arrayBuffers;
  const n = ROUNDS * FUNCTIONS;
  if (heap < 0 || arrayBuffers < 0) throw new Error('a GC ran in the measured rounds: run with --min-semi-space-size=128 --max-semi-space-size=128');
  // The process gone, its memory file closed (as when the agent hears of its exit): each function once more.
  child.stdin!.end();
  await new Promise((r) => child.once('exit', r));
  reader.forget(pid);
  const fs = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const open = fs.openSync;
  let opens = 0;
  fs.openSync = ((...args: Parameters<typeof open>) => (opens++, open(...args))) as typeof open;
  syncBuiltinESMExports();
  let unnamed = 0;
  try {
    for (let i = 0; i < FUNCTIONS; i++) if (reader.frame(pid, sfis[i]!) === undefined) unnamed++;
  } finally {
    fs.openSync = open;
    syncBuiltinESMExports();
  }
  console.log(
    `${mode}: ${n} ${mode === 'none' ? 'words without a function read' : 'fresh reads'}, ${named} ${mode === 'none' ? 'unnamed right' : 'named right'}; per read: ${(roundReads / n).toFixed(2)} reads of memory, ${(roundBytes / n).toFixed(0)} bytes read, ` +
      `${(heap / n).toFixed(0)} bytes allocated on the heap + ${(arrayBuffers / n).toFixed(0)} in array buffers, ${(((cpu.user + cpu.system) / n)).toFixed(1)} µs CPU; ` +
      `${firstRound}; reader's totals: ${stats.v8Reads} fresh reads, ${stats.v8Revalidations} re-checks (${stats.v8Changed} changed); the process gone: ${FUNCTIONS} reads (${unnamed} unnamed), ${opens} opens of its memory file`,
  );
} finally {
  child.stdin!.end();
  child.kill();
  rmSync(dir, { recursive: true, force: true });
}
