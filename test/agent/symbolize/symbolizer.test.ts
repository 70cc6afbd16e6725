import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DictionaryBuilder, frameNames } from '../../../src/model/index.js';
import { ProcSymbolizer } from '../../../src/agent/symbolize/symbolizer.js';
import { withElf } from '../../../src/agent/symbolize/elf.js';
import { readMapsShared } from '../../../src/agent/symbolize/proc-maps.js';
import { buildProgram, compiler, fileOffsetOf, startProgram } from './native-program.js';

let dir: string;
let binary: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-sym-'));
  binary = buildProgram(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Frame names of a symbolized stack, leaf first, the way a flame graph would label them. */
function names(sym: ProcSymbolizer, pid: number, user: bigint[], kernel: bigint[] = []): string[] {
  const b = new DictionaryBuilder();
  return sym.symbolize(pid, user, kernel, b).map((i) => frameNames(b.dict, i).join('/'));
}

function readelfBuildId(file: string): string {
  const out = execFileSync('readelf', ['-n', file], { encoding: 'utf8' });
  return /Build ID: ([0-9a-f]+)/.exec(out)![1]!;
}

describe('ELF reader', () => {
  it('reads the GNU build id readelf reports and finds the functions nm lists', () => {
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const burnA = BigInt(`0x${/^([0-9a-f]+) T burn_a$/m.exec(nm)![1]}`);
    withElf(binary, (elf) => {
      expect(elf.buildId()).toBe(readelfBuildId(binary));
      const syms = elf.functionSymbols();
      expect(syms.find((s) => s.name === 'burn_a')?.value).toBe(Number(burnA));
      expect(syms.map((s) => s.name)).toEqual(expect.arrayContaining(['main', 'burn_b']));
    });
  });

  it('rejects a file that is not ELF with a message naming it', () => {
    const notElf = path.join(dir, 'not-elf');
    copyFileSync(path.join(dir, 'burner.c'), notElf);
    expect(() => withElf(notElf, () => 0)).toThrow(/not-elf: not a usable ELF64 file/);
  });
});

describe('native symbolization', () => {
  it('names the functions of a running program, leaf and callers, with its binary and build id', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer();
      sym.observe(p.pid);
      // Leaf: the exact address; callers: return addresses (just past a call) inside the function.
      expect(names(sym, p.pid, [p.addr.burn_a!, p.addr.burn_b! + 4n, p.addr.main! + 8n])).toEqual(['burn_a', 'burn_b', 'main']);
      const b = new DictionaryBuilder();
      const [loc] = sym.symbolize(p.pid, [p.addr.main!], [], b);
      const mapping = b.dict.mappings[b.dict.locations[loc!]!.mapping]!;
      expect(mapping).toEqual({ binary, buildId: readelfBuildId(binary) });
    } finally {
      await p.stop();
    }
  });

  it('names libc functions from .dynsym of a stripped shared library', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer();
      const [name] = names(sym, p.pid, [p.addr.getpid! + 2n]);
      expect(name).toMatch(/getpid$/);
    } finally {
      await p.stop();
    }
  });

  it('names vdso functions (clock_gettime) from the kernel’s in-memory vdso image', async () => {
    const p = await startProgram(binary);
    try {
      const vdsoClock = p.addr.vdso_clock_gettime;
      if (vdsoClock === undefined) throw new Error('this kernel/libc exposes no __vdso_clock_gettime to look up');
      const sym = new ProcSymbolizer();
      const b = new DictionaryBuilder();
      const [loc] = sym.symbolize(p.pid, [vdsoClock + 3n], [], b);
      expect(frameNames(b.dict, loc!)).toEqual(['__vdso_clock_gettime']);
      expect(b.dict.mappings[b.dict.locations[loc!]!.mapping]!.binary).toBe('[vdso]');
    } finally {
      await p.stop();
    }
  });

  it('loads a binary’s symbol table once per build id, however many processes map it', async () => {
    const copy = path.join(dir, 'burner-copy');
    copyFileSync(binary, copy); // same build id, different path and inode
    const a = await startProgram(binary);
    const b = await startProgram(copy);
    try {
      const sym = new ProcSymbolizer();
      sym.observe(a.pid);
      const loadsAfterFirst = sym.stats().tableLoads!;
      sym.observe(b.pid);
      expect(sym.stats().tableLoads).toBe(loadsAfterFirst);
      expect(names(sym, b.pid, [b.addr.burn_a!])).toEqual(['burn_a']);
      // The second lookup of the same (build id, address) is answered from the result cache.
      const hits = sym.stats().resultCacheHits!;
      expect(names(sym, a.pid, [a.addr.burn_a!])).toEqual(['burn_a']);
      expect(sym.stats().resultCacheHits).toBe(hits + 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('resolves a frame once per dictionary: stacks of one batch reuse its location', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer();
      const b = new DictionaryBuilder();
      const first = sym.symbolize(p.pid, [p.addr.burn_a!, p.addr.main! + 8n, 0x10n], [], b);
      const second = sym.symbolize(p.pid, [p.addr.burn_b!, p.addr.main! + 8n, 0x10n], [], b);
      expect(second.slice(1)).toEqual(first.slice(1));
      expect(sym.stats()).toMatchObject({ frames: 6, symbolized: 4, memoHits: 2 });
      // A leaf at the same address as a caller frame is looked up differently, so it is not reused.
      const leaf = sym.symbolize(p.pid, [p.addr.main! + 8n], [], b);
      expect(sym.stats().memoHits).toBe(2);
      expect(frameNames(b.dict, leaf[0]!)).toEqual(['main']);
    } finally {
      await p.stop();
    }
  });

  it('keeps its result cache within the configured bound', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer({ maxCachedResults: 2 });
      expect(names(sym, p.pid, [p.addr.burn_a!, p.addr.burn_b! + 4n, p.addr.main! + 8n])).toEqual(['burn_a', 'burn_b', 'main']);
      expect(sym.stats().cachedResults).toBeLessThanOrEqual(2);
    } finally {
      await p.stop();
    }
  });

  it('reloads an evicted table through a live process when the one that first opened it has exited', async () => {
    const a = await startProgram(binary);
    const b = await startProgram(binary);
    try {
      // Caches of one entry: every other table load evicts the burner's table.
      const sym = new ProcSymbolizer({ maxCachedSymbols: 1, maxCachedResults: 1 });
      sym.observe(a.pid);
      sym.observe(b.pid);
      await a.stop();
      expect(names(sym, b.pid, [b.addr.getpid!, b.addr.burn_a! + 4n, b.addr.main! + 8n]).slice(1)).toEqual(['burn_a', 'main']);
      expect(sym.stats().tableLoadErrors).toBe(0);
    } finally {
      await b.stop();
    }
  });

  it('still symbolizes a process that exited after it was observed', async () => {
    const p = await startProgram(binary);
    const sym = new ProcSymbolizer();
    sym.observe(p.pid);
    await p.stop();
    expect(() => readFileSync(`/proc/${p.pid}/maps`)).toThrow();
    // The agent observes every pid of an interval's samples, the exited ones of its last interval too.
    sym.observe(p.pid);
    expect(names(sym, p.pid, [p.addr.burn_b!, p.addr.main! + 8n])).toEqual(['burn_b', 'main']);
  });

  it('keeps the frames of a process first seen after it exited as [unknown]+address, remembering none of them', async () => {
    const p = await startProgram(binary);
    await p.stop();
    const sym = new ProcSymbolizer();
    sym.observe(p.pid);
    const b = new DictionaryBuilder();
    const sample = { pid: p.pid, kind: 'cpu' as const, comm: 'burner', userAddrs: [p.addr.burn_b!, p.addr.main! + 8n], kernelAddrs: [], userStack: 5n, count: 1 };
    const first = sym.stack(sample, b);
    expect(b.dict.stacks[first]!.map((l) => frameNames(b.dict, l)[0])).toEqual([`[unknown]+0x${p.addr.burn_b!.toString(16)}`, `[unknown]+0x${(p.addr.main! + 8n).toString(16)}`]);
    // Its other samples of the interval land on the same dictionary entries; nothing went into the memo.
    expect(sym.stack(sample, b)).toBe(first);
    expect(sym.stats()).toMatchObject({ frames: 4, symbolized: 0, memoFrames: 0, stackHits: 0 });
  });

  it('names the code of a binary deleted while it runs (a deploy replaced it) through map_files', async () => {
    const doomed = path.join(dir, 'burner-doomed');
    copyFileSync(binary, doomed);
    const p = await startProgram(doomed);
    try {
      rmSync(doomed);
      expect(readFileSync(`/proc/${p.pid}/maps`, 'utf8')).toContain(`${doomed} (deleted)`);
      const sym = new ProcSymbolizer();
      expect(names(sym, p.pid, [p.addr.burn_a!, p.addr.main! + 8n])).toEqual(['burn_a', 'main']);
      const b = new DictionaryBuilder();
      const [loc] = sym.symbolize(p.pid, [p.addr.main!], [], b);
      expect(b.dict.mappings[b.dict.locations[loc!]!.mapping]!.binary).toBe(doomed);
    } finally {
      await p.stop();
    }
  });

  it('scans /proc for new processes so one that lived and exited between two reads still symbolizes', async () => {
    const sym = new ProcSymbolizer();
    // The first pass notes the processes already running without loading their symbol tables.
    sym.scanProcesses();
    expect(sym.stats().tableLoads).toBe(0);
    expect(sym.stats().cachedProcesses).toBeGreaterThan(0);
    const p = await startProgram(binary);
    sym.scanProcesses(); // what startProcessScan() does every second
    await p.stop();
    expect(() => readFileSync(`/proc/${p.pid}/maps`)).toThrow();
    // Never observe()d: the scan's snapshot is all there is.
    expect(names(sym, p.pid, [p.addr.burn_b!, p.addr.main! + 8n])).toEqual(['burn_b', 'main']);
  });

  it('keeps binary+file offset for a frame it cannot name (stripped, no debug file)', async () => {
    const stripped = path.join(dir, 'burner-stripped');
    copyFileSync(binary, stripped);
    execFileSync('strip', ['--strip-all', stripped]);
    const p = await startProgram(stripped);
    try {
      const maps = readFileSync(`/proc/${p.pid}/maps`, 'utf8');
      const sym = new ProcSymbolizer({ debugDirectories: [path.join(dir, 'no-debug-here')] });
      const offset = fileOffsetOf(maps, p.addr.burn_b!);
      expect(names(sym, p.pid, [p.addr.burn_b!])).toEqual([`burner-stripped+0x${offset.toString(16)}`]);
      expect(sym.stats().frames).toBe(1);
      expect(sym.stats().symbolized).toBe(0);
      expect(sym.stats().hitRate).toBe(0);
    } finally {
      await p.stop();
    }
  });

  it('finds a stripped binary’s names in a separate debug file by build id', async () => {
    const stripped = path.join(dir, 'burner-debug-by-id');
    copyFileSync(binary, stripped);
    const id = readelfBuildId(binary);
    const debugRoot = path.join(dir, 'debug');
    mkdirSync(path.join(debugRoot, '.build-id', id.slice(0, 2)), { recursive: true });
    execFileSync('objcopy', ['--only-keep-debug', binary, path.join(debugRoot, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`)]);
    execFileSync('strip', ['--strip-all', stripped]);
    const p = await startProgram(stripped);
    try {
      const sym = new ProcSymbolizer({ debugDirectories: [debugRoot] });
      expect(names(sym, p.pid, [p.addr.burn_b!, p.addr.main! + 8n])).toEqual(['burn_b', 'main']);
    } finally {
      await p.stop();
    }
  });

  it('finds a stripped binary’s names through .gnu_debuglink in a .debug directory', async () => {
    const sub = path.join(dir, 'linked');
    mkdirSync(path.join(sub, '.debug'), { recursive: true });
    // A program of its own (another build id) so the build-id lookup cannot be what finds it.
    const own = buildProgram(sub, 'linked-burner');
    execFileSync('objcopy', ['--only-keep-debug', own, path.join(sub, '.debug', 'linked-burner.debug')]);
    execFileSync('strip', ['--strip-all', own]);
    execFileSync('objcopy', [`--add-gnu-debuglink=${path.join(sub, '.debug', 'linked-burner.debug')}`, own]);
    const p = await startProgram(own);
    try {
      const sym = new ProcSymbolizer({ debugDirectories: [path.join(dir, 'no-debug-here')] });
      expect(names(sym, p.pid, [p.addr.burn_a!])).toEqual(['burn_a']);
    } finally {
      await p.stop();
    }
  });

  it('keeps an address in no mapping as [unknown]+address instead of dropping it', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer();
      expect(names(sym, p.pid, [0x10n, p.addr.main! + 8n])).toEqual(['[unknown]+0x10', 'main']);
    } finally {
      await p.stop();
    }
  });
});

/** A fake /proc entry whose maps put `bin`'s code segment at 0x7f0000000000. */
function fakeProc(root: string, pid: number, bin: string, startTime: string): bigint {
  const d = path.join(root, String(pid));
  mkdirSync(d, { recursive: true });
  const seg = /LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+R E/.exec(execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' }))!;
  const [offset, vaddr, size] = [BigInt(`0x${seg[1]}`), BigInt(`0x${seg[2]}`), BigInt(`0x${seg[3]}`)];
  const start = 0x7f0000000000n;
  writeFileSync(path.join(d, 'maps'), `${start.toString(16)}-${(start + size).toString(16)} r-xp ${offset.toString(16).padStart(8, '0')} 08:01 ${statSync(bin).ino}  ${bin}\n`);
  writeFileSync(path.join(d, 'stat'), `${pid} (burner) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${startTime} 0\n`);
  rmSync(path.join(d, 'root'), { force: true });
  symlinkSync('/', path.join(d, 'root'));
  return start - vaddr; // load bias: runtime = ELF address + bias
}

describe('pid reuse', () => {
  it('re-reads a pid whose start time changed instead of naming new code with old symbols', () => {
    const root = path.join(dir, 'fake-proc');
    // Another build (its own build id, so no cached table applies), stripped: nothing to name burn_a.
    mkdirSync(path.join(dir, 'reuse'), { recursive: true });
    const other = buildProgram(path.join(dir, 'reuse'), 'burner-other');
    execFileSync('strip', ['--strip-all', other]);
    expect(readelfBuildId(other)).not.toBe(readelfBuildId(binary));
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const burnA = BigInt(`0x${/^([0-9a-f]+) T burn_a$/m.exec(nm)![1]}`);
    const bias = fakeProc(root, 4242, binary, '100');
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [] });
    sym.observe(4242);
    expect(names(sym, 4242, [burnA + bias])).toEqual(['burn_a']);
    // Same pid, same start time: the snapshot stands (no re-read).
    sym.observe(4242);
    expect(sym.stats().mapsReads).toBe(1);
    // The pid now belongs to another process running a stripped binary.
    fakeProc(root, 4242, other, '200');
    sym.observe(4242);
    expect(sym.stats().mapsReads).toBe(2);
    expect(names(sym, 4242, [burnA + bias])[0]).toMatch(/^burner-other\+0x/);
  });

  it('takes a new process’s maps as another part of the agent just read them (one read per process), but not a reused pid’s', () => {
    const root = path.join(dir, 'fake-proc-shared');
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const burnA = BigInt(`0x${/^([0-9a-f]+) T burn_a$/m.exec(nm)![1]}`);
    const bias = fakeProc(root, 4400, binary, '100');
    // The unwinder's load of the process reads its listing; then the file changes, so a second read would show.
    expect(readMapsShared(4400, '100', root)).toHaveLength(1);
    writeFileSync(path.join(root, '4400', 'maps'), '');
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [] });
    sym.observe(4400);
    expect(sym.stats()).toMatchObject({ mapsReads: 0, mapsShared: 1 });
    expect(names(sym, 4400, [burnA + bias]), 'named from the shared listing').toEqual(['burn_a']);
    // The pid reused by another process (another start time): its own maps are read.
    fakeProc(root, 4400, binary, '300');
    sym.observe(4400);
    expect(sym.stats()).toMatchObject({ mapsReads: 1, mapsShared: 1 });
  });

  it('loads a binary’s symbol table only once a sample lands in it, not when the process is first seen', () => {
    const root = path.join(dir, 'fake-proc-lazy');
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const burnA = BigInt(`0x${/^([0-9a-f]+) T burn_a$/m.exec(nm)![1]}`);
    const bias = fakeProc(root, 4300, binary, '100');
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [] });
    sym.observe(4300);
    expect(sym.stats()).toMatchObject({ tableLoads: 0, cachedSymbolTables: 0 });
    expect(names(sym, 4300, [burnA + bias])).toEqual(['burn_a']);
    expect(sym.stats()).toMatchObject({ tableLoads: 1, cachedSymbolTables: 1 });
  });

  it('forgets exited processes and unused symbol tables after the idle period, keeping live ones', () => {
    const root = path.join(dir, 'fake-proc-idle');
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const burnA = BigInt(`0x${/^([0-9a-f]+) T burn_a$/m.exec(nm)![1]}`);
    const bias = fakeProc(root, 4400, binary, '100');
    fakeProc(root, 4401, binary, '100');
    // Idle period 0: every observe() sweeps.
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [], idleEvictMs: 0 });
    sym.observe(4400);
    sym.observe(4401);
    expect(names(sym, 4400, [burnA + bias])).toEqual(['burn_a']);
    expect(sym.stats()).toMatchObject({ cachedProcesses: 2, cachedSymbolTables: 1 });
    rmSync(path.join(root, '4400'), { recursive: true }); // 4400 exits
    sym.observe(4401);
    expect(sym.stats()).toMatchObject({ cachedProcesses: 1, cachedSymbolTables: 0 });
    // The live process still symbolizes (its table loads again when needed).
    expect(names(sym, 4401, [burnA + 1n + bias])).toEqual(['burn_a']);
  });
});

describe('frames kept across intervals (one dictionary for many intervals, as the agent keeps it)', () => {
  /** A fake /proc entry whose only code is JIT code in anonymous memory at 0x7f1000000000. */
  function fakeJitProc(root: string, pid: number, startTime: string): bigint {
    const d = path.join(root, String(pid));
    mkdirSync(path.join(d, 'root', 'tmp'), { recursive: true });
    const start = 0x7f1000000000n;
    writeFileSync(path.join(d, 'maps'), `${start.toString(16)}-${(start + 0x100000n).toString(16)} r-xp 00000000 00:00 0 \n`);
    writeFileSync(path.join(d, 'stat'), `${pid} (node) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${startTime} 0\n`);
    return start;
  }
  const perfMap = (root: string, pid: number) => path.join(root, String(pid), 'root', 'tmp', `perf-${pid}.map`);
  function nmAddress(fn: string): bigint {
    return BigInt(`0x${new RegExp(`^([0-9a-f]+) T ${fn}$`, 'm').exec(execFileSync('nm', [binary], { encoding: 'utf8' }))![1]}`);
  }

  it('resolves a long-lived process’s frames once: the next interval answers them all from the memo', async () => {
    const p = await startProgram(binary);
    try {
      const sym = new ProcSymbolizer();
      const b = new DictionaryBuilder();
      const stack = [p.addr.burn_a!, p.addr.main! + 8n];
      sym.observe(p.pid);
      const first = sym.symbolize(p.pid, stack, [], b);
      const before = { ...sym.stats() };
      const locations = b.dict.locations.length;
      // Next interval, same process, same dictionary.
      sym.observe(p.pid);
      const second = sym.symbolize(p.pid, stack, [], b);
      expect(second).toEqual(first);
      expect(second.map((i) => frameNames(b.dict, i)[0])).toEqual(['burn_a', 'main']);
      expect(sym.stats().memoHits - before.memoHits).toBe(2);
      expect(sym.stats().resultCacheHits).toBe(before.resultCacheHits);
      expect(b.dict.locations.length).toBe(locations);
      // A new dictionary (the agent's starts over past its bound) resolves them again.
      const fresh = new DictionaryBuilder();
      expect(sym.symbolize(p.pid, stack, [], fresh).map((i) => frameNames(fresh.dict, i)[0])).toEqual(['burn_a', 'main']);
      expect(sym.stats().memoHits - before.memoHits).toBe(2);
    } finally {
      await p.stop();
    }
  });

  it('finds a known stack of a process by the kernel’s stack hash in one lookup, as long as its frames’ answers stand', async () => {
    const p = await startProgram(binary);
    try {
      // Unnamed frames are looked up again every interval here.
      const sym = new ProcSymbolizer({ retryUnnamedMs: 0 });
      const b = new DictionaryBuilder();
      const sample = (userAddrs: bigint[], userStack: bigint) => ({ pid: p.pid, kind: 'cpu' as const, comm: 'burner', userAddrs, kernelAddrs: [], userStack, count: 1 });
      const hits = () => sym.stats().stackHits;
      const named = [p.addr.burn_a!, p.addr.main! + 8n];
      sym.observe(p.pid);
      const first = sym.stack(sample(named, 42n), b);
      expect(b.dict.stacks[first]!.map((l) => frameNames(b.dict, l)[0])).toEqual(['burn_a', 'main']);
      // Next interval: the whole stack from one lookup, counted as its frames in the hit rate.
      sym.observe(p.pid);
      const before = { ...sym.stats() };
      expect(sym.stack(sample(named, 42n), b)).toBe(first);
      expect(hits() - before.stackHits).toBe(1);
      expect(sym.stats().frames - before.frames).toBe(2);
      expect(sym.stats().symbolized - before.symbolized).toBe(2);
      // The same hash with another leaf (a collision) is symbolized, not taken for the known stack.
      const other = sym.stack(sample([p.addr.burn_b!, p.addr.main! + 8n], 42n), b);
      expect(b.dict.stacks[other]!.map((l) => frameNames(b.dict, l)[0])).toEqual(['burn_b', 'main']);
      // A stack with a frame in no mapping: found again within the interval, resolved frame by frame
      // once unnamed frames are looked up again (the next interval here).
      const unnamed = [0x10n, p.addr.main! + 8n];
      sym.stack(sample(unnamed, 7n), b);
      let h = hits();
      sym.stack(sample(unnamed, 7n), b);
      expect(hits()).toBe(h + 1);
      sym.observe(p.pid);
      sym.stack(sample(unnamed, 7n), b);
      expect(hits()).toBe(h + 1);
      // A CPython frame without a name (its code object was not readable yet) is never taken from a kept stack.
      const python = [(1n << 63n) | 0x1000n, p.addr.main! + 8n];
      sym.stack(sample(python, 9n), b);
      h = hits();
      sym.stack(sample(python, 9n), b);
      expect(hits()).toBe(h);
    } finally {
      await p.stop();
    }
  });

  it('forgets the known stacks of a reused pid', () => {
    const root = path.join(dir, 'fake-proc-kept-stacks');
    mkdirSync(path.join(dir, 'kept-stacks'), { recursive: true });
    const other = buildProgram(path.join(dir, 'kept-stacks'), 'burner-stripped');
    execFileSync('strip', ['--strip-all', other]);
    const burnA = nmAddress('burn_a');
    const bias = fakeProc(root, 4550, binary, '100');
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [] });
    const b = new DictionaryBuilder();
    const sample = { pid: 4550, kind: 'cpu' as const, comm: 'burner', userAddrs: [burnA + bias], kernelAddrs: [], userStack: 99n, count: 1 };
    const leaf = () => frameNames(b.dict, b.dict.stacks[sym.stack(sample, b)]![0]!)[0];
    sym.observe(4550);
    expect(leaf()).toBe('burn_a');
    expect(leaf()).toBe('burn_a');
    expect(sym.stats().stackHits).toBe(1);
    fakeProc(root, 4550, other, '200');
    sym.observe(4550);
    expect(leaf()).toMatch(/^burner-stripped\+0x/);
    expect(sym.stats().stackHits).toBe(1);
  });

  it('starts afresh for a reused pid even with the same dictionary', () => {
    const root = path.join(dir, 'fake-proc-kept-reuse');
    mkdirSync(path.join(dir, 'kept-reuse'), { recursive: true });
    const other = buildProgram(path.join(dir, 'kept-reuse'), 'burner-stripped');
    execFileSync('strip', ['--strip-all', other]);
    const burnA = nmAddress('burn_a');
    const bias = fakeProc(root, 4500, binary, '100');
    const sym = new ProcSymbolizer({ procRoot: root, debugDirectories: [] });
    const b = new DictionaryBuilder();
    sym.observe(4500);
    expect(sym.symbolize(4500, [burnA + bias], [], b).map((i) => frameNames(b.dict, i)[0])).toEqual(['burn_a']);
    fakeProc(root, 4500, other, '200');
    sym.observe(4500);
    expect(frameNames(b.dict, sym.symbolize(4500, [burnA + bias], [], b)[0]!)[0]).toMatch(/^burner-stripped\+0x/);
  });

  it('looks a frame without a name up again once its perf map changed on disk (a JIT wrote it), not before', () => {
    const root = path.join(dir, 'fake-proc-jit');
    const start = fakeJitProc(root, 4600, '100');
    const unnamed: number[] = [];
    const sym = new ProcSymbolizer({ procRoot: root, mapsRefreshMs: 0, onUnnamedJit: (pid) => unnamed.push(pid) });
    const b = new DictionaryBuilder();
    const name = () => frameNames(b.dict, sym.symbolize(4600, [start + 0x40n], [], b)[0]!)[0];
    sym.observe(4600);
    expect(name()).toBe('[anon]+0x7f1000000040');
    expect(name()).toBe('[anon]+0x7f1000000040');
    // Next interval, no perf map yet: answered from the memo, not looked up (nor reported) again.
    sym.observe(4600);
    expect(name()).toBe('[anon]+0x7f1000000040');
    expect(unnamed).toEqual([4600]);
    writeFileSync(perfMap(root, 4600), `${(start + 0x20n).toString(16)} 40 LazyCompile:*handler app.js:1\n`);
    // Within the interval the map is written in, still the memo's answer; the next interval reads it.
    expect(name()).toBe('[anon]+0x7f1000000040');
    sym.observe(4600);
    expect(name()).toBe('LazyCompile:*handler app.js:1');
  });

  it('looks a frame without a name up again after the retry bound even if nothing changed', () => {
    const root = path.join(dir, 'fake-proc-jit-bound');
    const start = fakeJitProc(root, 4650, '100');
    const unnamed: number[] = [];
    const sym = new ProcSymbolizer({ procRoot: root, mapsRefreshMs: 0, retryUnnamedMs: 0, onUnnamedJit: (pid) => unnamed.push(pid) });
    const b = new DictionaryBuilder();
    sym.observe(4650);
    sym.symbolize(4650, [start + 0x40n], [], b);
    sym.symbolize(4650, [start + 0x40n], [], b);
    expect(unnamed).toEqual([4650]);
    sym.observe(4650);
    sym.symbolize(4650, [start + 0x40n], [], b);
    expect(unnamed).toEqual([4650, 4650]);
  });

  it('names a JIT address again once the perf map says new code is there', () => {
    const root = path.join(dir, 'fake-proc-jit-moved');
    const start = fakeJitProc(root, 4700, '100');
    const sym = new ProcSymbolizer({ procRoot: root, mapsRefreshMs: 0 });
    const b = new DictionaryBuilder();
    const name = (addr: bigint) => frameNames(b.dict, sym.symbolize(4700, [addr], [], b)[0]!)[0];
    writeFileSync(perfMap(root, 4700), `${(start + 0x20n).toString(16)} 40 old\n`);
    sym.observe(4700);
    expect(name(start + 0x40n)).toBe('old');
    // The JIT freed that code and compiled another function at the same address (later lines win).
    writeFileSync(perfMap(root, 4700), `${(start + 0x20n).toString(16)} 40 old\n${(start + 0x20n).toString(16)} 40 new\n${(start + 0x80n).toString(16)} 40 other\n`);
    sym.observe(4700);
    expect(name(start + 0x40n)).toBe('old'); // still remembered: nothing made the map be read yet
    expect(name(start + 0x90n)).toBe('other'); // a miss reads the map's new tail …
    expect(name(start + 0x40n)).toBe('new'); // … and what was remembered of this process is looked up again
  });
});

describe('C++ names', () => {
  it('shows demangled names and keeps the linker name as the system name', async () => {
    const src = path.join(dir, 'spin.cc');
    const bin = path.join(dir, 'spin');
    writeFileSync(
      src,
      `extern "C" int printf(const char *, ...);
extern "C" int fflush(void *);
extern "C" long read(int, void *, unsigned long);
namespace shop { struct Cart { __attribute__((noinline)) int total(int n); }; }
int shop::Cart::total(int n) { volatile int s = 0; for (int i = 0; i < n; i++) s += i; return s; }
int main() {
  shop::Cart c; c.total(10);
  int (shop::Cart::*m)(int) = &shop::Cart::total;
  printf("total %p\\nready\\n", *(void **)&m); fflush(0);
  char b[8]; while (read(0, b, 8) > 0) {}
}
`,
    );
    execFileSync(compiler().replace('gcc', 'g++').replace('clang', 'clang++'), ['-g', '-O1', '-o', bin, src]);
    const p = await startProgram(bin);
    try {
      const sym = new ProcSymbolizer();
      const b = new DictionaryBuilder();
      const [loc] = sym.symbolize(p.pid, [p.addr.total!], [], b);
      const fn = b.dict.functions[b.dict.locations[loc!]!.lines[0]!.function]!;
      expect(fn.name).toBe('shop::Cart::total(int)');
      expect(fn.systemName).toBe('_ZN4shop4Cart5totalEi');
    } finally {
      await p.stop();
    }
  });
});

describe('kernel symbolization', () => {
  it('names kernel frames from /proc/kallsyms (needs root)', () => {
    if (process.getuid?.() !== 0) throw new Error('kernel symbolization test needs root: /proc/kallsyms hides addresses from other users');
    const line = /^([0-9a-f]+) T schedule$/m.exec(readFileSync('/proc/kallsyms', 'latin1'));
    if (!line) throw new Error('/proc/kallsyms has no "schedule" symbol');
    const schedule = BigInt(`0x${line[1]}`);
    const sym = new ProcSymbolizer();
    const b = new DictionaryBuilder();
    const locs = sym.symbolize(1, [], [schedule + 0x10n, schedule + 0x20n], b);
    expect(locs.map((i) => frameNames(b.dict, i)[0])).toEqual(['schedule', 'schedule']);
    expect(b.dict.mappings[b.dict.locations[locs[0]!]!.mapping]!.binary).toBe('[kernel.kallsyms]');
  });

  it('reads kallsyms again for a module loaded after the first read', () => {
    const file = path.join(dir, 'kallsyms');
    writeFileSync(file, 'ffffffff81000000 T _stext\nffffffff81001000 T do_work\nffffffff81002000 T _etext\n');
    const sym = new ProcSymbolizer({ kallsymsPath: file, kallsymsReloadMs: 0 });
    expect(names(sym, 1, [], [0xffffffff81001010n, 0xffffffffc0001010n])).toEqual(['do_work', '[kernel.kallsyms]+0xffffffffc0001010']);
    writeFileSync(file, 'ffffffff81000000 T _stext\nffffffff81001000 T do_work\nffffffff81002000 T _etext\nffffffffc0001000 t nf_hook\t[nf_tables]\n', { flag: 'w' });
    const b = new DictionaryBuilder();
    const [loc] = sym.symbolize(1, [], [0xffffffffc0001010n], b);
    expect(frameNames(b.dict, loc!)).toEqual(['nf_hook']);
    expect(b.dict.mappings[b.dict.locations[loc!]!.mapping]!.binary).toBe('[nf_tables]');
  });

  it('re-reads kallsyms for an unknown address only when the module list changed', () => {
    const file = path.join(dir, 'kallsyms-modules');
    const modules = path.join(dir, 'modules');
    writeFileSync(file, 'ffffffff81000000 T _stext\nffffffff81001000 T do_work\nffffffff81002000 T _etext\n');
    writeFileSync(modules, 'ext4 1 0 - Live 0x0\n');
    const sym = new ProcSymbolizer({ kallsymsPath: file, modulesPath: modules, kallsymsReloadMs: 0 });
    expect(names(sym, 1, [], [0xffffffffc0001010n])).toEqual(['[kernel.kallsyms]+0xffffffffc0001010']);
    expect(names(sym, 1, [], [0xffffffffc0001010n])).toEqual(['[kernel.kallsyms]+0xffffffffc0001010']);
    expect(sym.stats().kallsymsLoads).toBe(1);
    writeFileSync(file, 'ffffffff81000000 T _stext\nffffffff81001000 T do_work\nffffffff81002000 T _etext\nffffffffc0001000 t nf_hook\t[nf_tables]\n');
    writeFileSync(modules, 'ext4 1 0 - Live 0x0\nnf_tables 1 0 - Live 0x0\n');
    expect(names(sym, 1, [], [0xffffffffc0001010n])).toEqual(['nf_hook']);
    expect(sym.stats().kallsymsLoads).toBe(2);
  });

  it('keeps an unknown kernel address as [kernel.kallsyms]+address', () => {
    const sym = new ProcSymbolizer({ kallsymsPath: path.join(dir, 'no-kallsyms') });
    expect(names(sym, 1, [], [0xffffffff81000123n])).toEqual(['[kernel.kallsyms]+0xffffffff81000123']);
  });
});
