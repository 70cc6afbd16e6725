import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DictionaryBuilder, frameNames } from '../../../src/model/index.js';
import { PerfMap } from '../../../src/agent/symbolize/perf-map.js';
import { JIT_MAPPING, ProcSymbolizer } from '../../../src/agent/symbolize/symbolizer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-perfmap-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PerfMap', () => {
  it('parses START SIZE name lines, with or without 0x, names containing spaces', () => {
    const file = path.join(dir, 'a.map');
    writeFileSync(file, '1000 10 JS:*hot file.js:1:1\n0x2000 0x20 Builtin:Foo\nbroken line\n');
    const m = new PerfMap(file);
    expect(m.refresh()).toBe(true);
    expect(m.lookup(0x1008)).toBe('JS:*hot file.js:1:1');
    expect(m.lookup(0x201f)).toBe('Builtin:Foo');
    expect(m.lookup(0x1010)).toBeUndefined();
    expect(m.lookup(0x2020)).toBeUndefined();
  });

  it('reads only what was appended, keeps a half-written line for later, and lets later code win', () => {
    const file = path.join(dir, 'b.map');
    writeFileSync(file, '1000 100 old\n3000 10 par');
    const m = new PerfMap(file);
    m.refresh();
    expect(m.lookup(0x1050)).toBe('old');
    expect(m.lookup(0x3001)).toBeUndefined(); // the line is not finished yet
    appendFileSync(file, 'tial\n1040 20 recompiled\n');
    m.refresh();
    expect(m.lookup(0x3001)).toBe('partial');
    expect(m.lookup(0x1050)).toBe('recompiled');
    expect(m.lookup(0x1010)).toBe('old');
  });

  it('reports a missing file', () => {
    expect(new PerfMap(path.join(dir, 'none.map')).refresh()).toBe(false);
  });
});

/**
 * A real Node started with --perf-basic-prof: it warms up one named function, says ready, and on a
 * line from stdin compiles and runs a second one, so the test sees the perf map grow.
 */
const CHILD = `
function burnJsKiln(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
for (let k = 0; k < 300; k++) burnJsKiln(1e5);
console.log('ready');
require('readline').createInterface({ input: process.stdin }).on('line', () => {
  const late = new Function('n', 'let s = 0; for (let i = 0; i < n; i++) s += Math.cbrt(i); return s;');
  Object.defineProperty(late, 'name', { value: 'lateJsKiln' });
  function lateJsKiln(n) { return late(n); }
  for (let k = 0; k < 300; k++) lateJsKiln(1e5);
  console.log('done');
});
`;

function perfMapEntry(pid: number, fn: string): bigint {
  const text = readFileSync(`/tmp/perf-${pid}.map`, 'utf8');
  const line = text.split('\n').find((l) => l.includes(`JS:*${fn} `) || l.includes(`JS:^${fn} `) || l.includes(`JS:~${fn} `));
  if (!line) throw new Error(`no perf map entry for ${fn} in /tmp/perf-${pid}.map`);
  const [start, size] = line.split(' ');
  return BigInt(`0x${start}`) + BigInt(`0x${size}`) / 2n;
}

// The children run in the test's temporary directory: node's --perf-basic-prof may leave V8 log files
// (isolate-*-v8.log) in its working directory, which must not be the checkout.
describe('JIT frames of a real node --perf-basic-prof process', () => {
  it('names JS functions, including ones compiled after the process was first seen', async () => {
    const child = spawn(process.execPath, ['--perf-basic-prof', '-e', CHILD], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
    try {
      expect(await next()).toBe('ready');
      const pid = child.pid!;
      const sym = new ProcSymbolizer({ mapsRefreshMs: 0 });
      sym.observe(pid);
      const b = new DictionaryBuilder();
      const [early] = sym.symbolize(pid, [perfMapEntry(pid, 'burnJsKiln')], [], b);
      expect(frameNames(b.dict, early!)[0]).toMatch(/^JS:[*^~]burnJsKiln /);
      expect(b.dict.mappings[b.dict.locations[early!]!.mapping]!.binary).toBe(JIT_MAPPING);

      child.stdin!.write('go\n');
      expect(await next()).toBe('done');
      const [late] = sym.symbolize(pid, [perfMapEntry(pid, 'lateJsKiln')], [], b);
      expect(frameNames(b.dict, late!)[0]).toMatch(/^JS:[*^~]lateJsKiln /);
    } finally {
      child.kill();
      rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
    }
  });
});

describe('JIT frames of a process in its own pid namespace (as in a container)', () => {
  it('finds the perf map the process named with its namespace pid', async () => {
    // Inside the namespace node is pid 1 and writes /tmp/perf-1.map; the host sees another pid.
    const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '--perf-basic-prof', '-e', CHILD], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`unshare exited (${code}): creating a pid namespace needs root (CAP_SYS_ADMIN)`)));
      });
      expect(first).toBe('ready');
      const hostPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
      expect(readFileSync(`/proc/${hostPid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
      const sym = new ProcSymbolizer();
      sym.observe(hostPid);
      const text = readFileSync(`/proc/${hostPid}/root/tmp/perf-1.map`, 'utf8');
      const line = text.split('\n').find((l) => / JS:[*^~]burnJsKiln /.test(l))!;
      const [start] = line.split(' ');
      const b = new DictionaryBuilder();
      const [loc] = sym.symbolize(hostPid, [BigInt(`0x${start}`) + 1n], [], b);
      expect(frameNames(b.dict, loc!)[0]).toMatch(/^JS:[*^~]burnJsKiln /);
    } finally {
      child.kill();
      rmSync('/tmp/perf-1.map', { force: true });
    }
  });
});
